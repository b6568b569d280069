"""The one exception type for mistakes a user can fix (bad input, missing files, wrong settings).

`train.py` and the command-line tools print a `UserError` as one line, `error: <message>`, and exit with status 2,
without a traceback. Messages name the problem and the fix.
"""


class UserError(Exception):
    """A problem with the user's input or environment, with a one-line message that says how to fix it."""
