# The upurse firmware for one role, frozen into a MicroPython build. Included by each board's
# manifest.py with the role: include("../manifest.py", role="card") or role="terminal".
# Relative paths resolve against this file (MicroPython docs, "MicroPython manifest files").
options.defaults(role="card")  # noqa: F821 - manifest files run with these names defined

PACKAGES = {
    "card": ("common", "card", "drivers"),
    "terminal": ("common", "terminal", "drivers"),
    "all": ("common", "card", "terminal", "drivers"),  # a board that boots as either (qemu)
}
if options.role not in PACKAGES:  # noqa: F821
    raise ValueError("upurse role must be card, terminal or all, not %r" % options.role)  # noqa: F821
for name in PACKAGES[options.role]:  # noqa: F821
    # main.py is frozen too, as <role>/main.py: a one-line /main.py on flash runs it
    package(name, base_path="../firmware", opt=3)  # noqa: F821
