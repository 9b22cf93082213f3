import sys

from .launcher import main

if __name__ == "__main__":  # a spawned child process (the demo's row generator) imports this module too
    sys.exit(main())
