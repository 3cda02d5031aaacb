"""upurse host tools. Importing the package puts the shared firmware modules (firmware/common,
card, terminal) on the path through the CPython port, so the host reuses them rather than
keeping copies."""
from upurse.port import install

install()
