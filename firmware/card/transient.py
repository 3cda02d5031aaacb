"""Command code that loads when its command runs and is forgotten when it returns.

On the unix port the bytecode of every imported module lives in the heap (a board runs frozen
code from flash): the public-key roll's P-256, certificate and KDF code would otherwise stay
there after the roll, a third of a 64 KB card's heap. card/keys.py and card/pki.py wrap their
handlers with `transient`; reloading a module from .mpy takes well under a millisecond. On
CPython (the host port) nothing is forgotten: its heap is not small, and its imports are slow.
"""
import gc
import sys

_PACKAGES = ("card.", "common.")  # only firmware modules are ever forgotten
_FORGET = sys.implementation.name == "micropython"


def loaded():
    """The names of the modules loaded now (a tuple: lighter than a set, and few)."""
    return tuple(sys.modules)


def unload(keep, also=None):
    """Forget the firmware modules whose names are not in `keep` (from `loaded`), and `also`,
    then collect, so that their code and tables go back to the heap.

    The globals of those not in `keep` are cleared too: the GC scans the stack conservatively,
    and a stale pointer there to one of their functions would otherwise keep a whole module
    alive, not just that function. Nothing else can hold them: they were loaded since `keep`.
    `also` was loaded before, and someone else may still use it: it is only forgotten.
    """
    if not _FORGET:
        return
    for name in loaded():
        if (name not in keep or name == also) and name.startswith(_PACKAGES):
            module = sys.modules.pop(name)
            if name not in keep:
                module.__dict__.clear()
            dot = name.rfind(".")
            package = sys.modules.get(name[:dot])
            if package is not None and hasattr(package, name[dot + 1 :]):
                delattr(package, name[dot + 1 :])  # `import a.b` bound b in a too
    gc.collect()


class _Transient:
    def __init__(self, module, handler):
        self.module = module
        self.handler = handler

    def __call__(self, applet, p1, data):
        keep = loaded()
        try:
            handler = self.handler
            if type(handler) is str:  # "module.function" in card/, loaded for this command
                module, name = handler.split(".")
                handler = getattr(__import__("card." + module, None, None, (name,)), name)
            return handler(applet, p1, data)
        finally:
            unload(keep, self.module)


def transient(module, handlers):
    """`handlers` ({INS: handler, or "module.function" in card/ to load when it runs})
    wrapped so that each leaves the module table as it found it, less `module` (the table's
    own, loaded again by the next command that needs it)."""
    for ins in handlers:
        handlers[ins] = _Transient(module, handlers[ins])
    return handlers
