"""The console: the pages people work in, rendered on the server from the domains' services (Jinja2 + htmx).

It sits at the top of the house: a page route authorizes with the same ``Principal`` and policies as the API route
beside it, calls the same service function and renders; it never queries a table and never decides a rule.
"""

from leadflow.console import board, card, intake, my, pages, stream, worklist

# Every console router, in the order they are mounted (app.py); each work page adds its module here.
routers = (stream.router, pages.router, intake.router, worklist.router, card.router, my.router, board.router)
