"""The frozen (PyInstaller) program's entry point: registry_app.launcher.main, after freeze_support().

The demo builds its rows in a spawned second process. A spawned child of a frozen program is the program
itself run with multiprocessing's arguments; freeze_support() recognises them, runs the child's work and
exits, before the launcher would parse them as a command line. Not shipped in the package (developer file).
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from registry_app.launcher import main

    sys.exit(main())
