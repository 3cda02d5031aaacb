"""`python -m upurse.port SCRIPT [ARGS]`: run a firmware script on CPython like `micropython`."""
import runpy
import sys

from upurse.port import install


def main() -> None:
    install()
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    sys.path.insert(0, str(__import__("pathlib").Path(script).resolve().parent))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
