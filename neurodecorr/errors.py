"""The one exception type for user-facing errors.

Anything the user can fix (a bad file, a bad value, a bad shape, non-finite data, an unstable
setting) raises :class:`NeurodecorrError` with a one-line message naming the problem and the file
or field. The CLI prints it and exits with status 2, without a traceback.
"""


class NeurodecorrError(ValueError):
    """A problem with the user's input or configuration, described in one line."""
