from leadflow.platform.problems import Conflict


class InUse(Conflict):
    type = "in-use"


class ProtectedRow(Conflict):
    type = "protected"
