"""CPython stand-in for the `micropython` module: `const` and the decorators are no-ops."""


def const(value):
    return value


def native(func):
    return func


def viper(func):
    return func


def mem_info(*_args):
    pass
