"""The one exception type for bad user input: the CLI prints its message on one line, exit 2."""


class FdslError(ValueError):
    """Invalid input from the user (value, file or path); the message names the value and what is allowed."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise FdslError(message)
