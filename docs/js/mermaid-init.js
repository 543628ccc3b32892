// Render ```mermaid code blocks (MkDocs emits them as <pre><code class="language-mermaid">) without a plugin.
// Without network access the diagrams stay readable as text.
document.addEventListener("DOMContentLoaded", function () {
  if (typeof mermaid === "undefined") {
    return;
  }
  document.querySelectorAll("pre > code.language-mermaid").forEach(function (code) {
    var div = document.createElement("div");
    div.className = "mermaid";
    div.textContent = code.textContent;
    code.parentElement.replaceWith(div);
  });
  mermaid.initialize({ startOnLoad: false });
  mermaid.run();
});
