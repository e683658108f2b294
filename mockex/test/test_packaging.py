"""
Packaging tests: the wheel built from this checkout installs a working
C{twistd mockex} plugin.

The twistd plugin breaks silently in several ways that no unit test sees:
C{packages = find:} leaves C{twisted/plugins/mockex_plugin.py} out of the
wheel; a C{twisted/__init__.py} or C{twisted/plugins/__init__.py} shadows
Twisted itself; a stale C{dropin.cache} gets shipped; the default editable
install hides the plugin from C{twisted.plugin}.  These tests build the
wheel, install it into a fresh virtualenv and ask C{twistd} for C{mockex}.

How the fresh virtualenv gets its dependencies: the wheel is installed with
C{pip install --no-deps --no-index}, and a C{.pth} file in the new venv
appends the I{running} interpreter's site-packages directories to its
C{sys.path}.  This was chosen over installing the dependencies from the
index because it is offline, takes a few seconds instead of tens, and
tests the wheel against exactly the dependency versions the rest of the
suite runs against.  A plain path line in a C{.pth} file does not process
the C{.pth} files of the directory it adds, so a C{--config-settings
editable_mode=compat} install of mockex in the running environment does
I{not} leak the checkout into the new venv; the test checks that C{mockex}
and the plugin module are imported from the new venv.  Since Twisted is
not installed into the new venv it has no C{bin/twistd} script; C{twistd}
is run as C{<venv>/bin/python -c <what bin/twistd does>}.

What is I{not} covered here: whether C{install_requires} resolves from the
index (CI's C{pip install -e '.[test]'} does that).

Building the wheel needs C{pip} and, for pip's isolated build environment,
C{setuptools>=68} and C{wheel} from the package index (or pip's cache).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from twisted.trial.unittest import SkipTest, TestCase

import mockex

# The whole build + venv + install + twistd sequence must finish within
# this many seconds (it normally takes about 10).
BUDGET_SECONDS = 90

# Run twistd exactly as the bin/twistd console script does.
TWISTD = (
    "import sys\n"
    "from twisted.scripts.twistd import run\n"
    "sys.argv[0] = 'twistd'\n"
    "sys.exit(run())\n"
)

# Printed by the new venv's interpreter: where mockex and its plugin module
# are imported from.
WHERE = (
    "import mockex, twisted.plugins.mockex_plugin as p\n"
    "print(mockex.__file__)\n"
    "print(p.__file__)\n"
)

# Names never copied from the checkout into the build directory.
_IGNORED = shutil.ignore_patterns(
    ".git",
    ".hypothesis",
    "_trial_temp*",
    "__pycache__",
    "*.py[cod]",
    "*.egg-info",
    "dropin.cache*",
)


def _sourceRoot() -> Path | None:
    """
    The checkout that C{mockex} is imported from, or C{None} if C{mockex}
    is not imported from a source checkout (for example from an installed
    wheel).
    """
    root = Path(mockex.__file__).resolve().parent.parent
    if (root / "setup.cfg").is_file() and (root / "pyproject.toml").is_file():
        return root
    return None


def _ignoreForCopy(root: Path):
    """
    A C{shutil.copytree} ignore function: L{_IGNORED}; and, directly inside
    the checkout, C{build}, C{dist} and any virtualenv (a directory holding
    a C{pyvenv.cfg}).
    """

    def ignore(directory: str, names: list[str]) -> set[str]:
        ignored = set(_IGNORED(directory, names))
        if Path(directory) == root:
            ignored.update(
                name
                for name in names
                if name in ("build", "dist") or (root / name / "pyvenv.cfg").exists()
            )
        return ignored

    return ignore


def _parentSitePackages() -> list[str]:
    """
    The site-packages directories of the running interpreter, in
    C{sys.path} order: where this test suite's dependencies are installed.
    The checkout itself is not one of them.
    """
    return [
        entry
        for entry in sys.path
        if entry
        and os.path.basename(os.path.normpath(entry))
        in ("site-packages", "dist-packages")
        and os.path.isdir(entry)
    ]


def _cleanEnvironment() -> dict[str, str]:
    """
    This process's environment without C{PYTHONPATH} and C{PYTHONHOME}, so
    that a child interpreter sees only what is installed.
    """
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


class WheelTests(TestCase):
    """
    Build the wheel from this checkout, install it into a fresh virtualenv
    and check that twistd finds the mockex plugin there.
    """

    # Only effective for Deferred-returning tests; the subprocess timeouts
    # below are what bound this synchronous test.
    timeout = BUDGET_SECONDS + 30

    def setUp(self) -> None:
        root = _sourceRoot()
        if root is None:
            raise SkipTest(
                f"mockex is imported from {mockex.__file__}, not from a source "
                "checkout with setup.cfg and pyproject.toml: nothing to build"
            )
        self.root = root
        probe = subprocess.run(
            [sys.executable, "-m", "pip", "--version"],
            capture_output=True,
            text=True,
        )
        if probe.returncode != 0:
            raise SkipTest(
                f"the build tool (pip) is unavailable for {sys.executable}: "
                f"{probe.stderr.strip()}"
            )
        self.deadline = time.monotonic() + BUDGET_SECONDS
        self.work = Path(tempfile.mkdtemp(prefix="mockex-packaging-"))
        self.addCleanup(shutil.rmtree, self.work, ignore_errors=True)

    def run_(self, args: list[str], what: str) -> str:
        """
        Run C{args} in the scratch directory, without C{PYTHONPATH}, within
        what is left of the time budget; fail with the output unless it
        exits 0.  Return stdout and stderr, together.
        """
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self.fail(f"out of time ({BUDGET_SECONDS}s) before: {what}")
        try:
            result = subprocess.run(
                args,
                cwd=self.work,
                env=_cleanEnvironment(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=remaining,
            )
        except subprocess.TimeoutExpired as e:
            self.fail(
                f"{what}: still running after the {BUDGET_SECONDS}s budget\n"
                f"command: {args}\nstdout:\n{e.stdout}\nstderr:\n{e.stderr}"
            )
        output = result.stdout + result.stderr
        if result.returncode != 0:
            self.fail(
                f"{what}: exit code {result.returncode}\ncommand: {args}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return output

    def buildWheel(self) -> Path:
        """
        Copy the checkout, plant a stale C{dropin.cache} in its plugin
        directory (as a C{twistd} run from a compat-editable checkout leaves
        one), and build the wheel from the copy.  Building a copy keeps
        C{build/} and C{*.egg-info} out of the checkout.
        """
        source = self.work / "source"
        shutil.copytree(self.root, source, ignore=_ignoreForCopy(self.root))
        (source / "twisted" / "plugins" / "dropin.cache").write_bytes(b"stale")
        dist = self.work / "dist"
        self.run_(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--wheel-dir",
                str(dist),
                str(source),
            ],
            "building the wheel",
        )
        wheels = list(dist.glob("mockex-*.whl"))
        self.assertEqual(len(wheels), 1, f"expected one mockex wheel in {wheels}")
        return wheels[0]

    def assertWheelContents(self, wheel: Path) -> None:
        names = zipfile.ZipFile(wheel).namelist()
        listing = "\n".join(names)
        self.assertIn("twisted/plugins/mockex_plugin.py", names, listing)
        self.assertIn("mockex/__init__.py", names, listing)
        self.assertIn("mockex/py.typed", names, listing)
        self.assertNotIn("twisted/__init__.py", names, listing)
        self.assertNotIn("twisted/plugins/__init__.py", names, listing)
        self.assertEqual(
            [name for name in names if name.endswith("dropin.cache")],
            [],
            listing,
        )
        self.assertEqual(
            [name for name in names if name.endswith((".pyc", ".pyo"))],
            [],
            listing,
        )
        # the pytest plugin's entry point (pytest loads mockex.pytest_plugin through it)
        [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        text = zipfile.ZipFile(wheel).read(entry_points).decode()
        self.assertRegex(text, r"\[pytest11\]\s*\nmockex = mockex.pytest_plugin")

    def makeVirtualenv(self, wheel: Path) -> str:
        """
        Create a fresh venv (no system site-packages), install C{wheel} into
        it without dependencies, and make the running interpreter's
        site-packages importable from it.  Return its Python.
        """
        venv = self.work / "venv"
        self.run_([sys.executable, "-m", "venv", str(venv)], "creating the venv")
        python = str(venv / "bin" / "python")
        self.run_(
            [python, "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)],
            "installing the wheel",
        )
        purelib = self.run_(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            "locating the venv's site-packages",
        ).strip()
        (Path(purelib) / "_mockex_test_dependencies.pth").write_text(
            "".join(f"{entry}\n" for entry in _parentSitePackages())
        )
        return python

    def test_wheelInstallsTwistdPlugin(self) -> None:
        """
        The wheel ships the plugin module and no C{twisted/__init__.py},
        C{twisted/plugins/__init__.py} or C{dropin.cache}; installed, it
        makes C{twistd --help} list C{mockex}, and C{twistd mockex --help}
        succeeds.
        """
        wheel = self.buildWheel()
        self.assertWheelContents(wheel)
        python = self.makeVirtualenv(wheel)
        venv = str(self.work / "venv")

        where = self.run_([python, "-c", WHERE], "importing mockex in the venv")
        for path in where.split():
            self.assertTrue(
                os.path.realpath(path).startswith(os.path.realpath(venv) + os.sep),
                f"{path} is not inside the fresh venv {venv}: the test would "
                "be checking another mockex installation, not the wheel",
            )

        usage = self.run_([python, "-c", TWISTD, "--help"], "twistd --help")
        self.assertTrue(
            re.search(r"^\s+mockex\s", usage, re.MULTILINE),
            f"twistd --help does not list mockex:\n{usage}",
        )
        self.run_([python, "-c", TWISTD, "mockex", "--help"], "twistd mockex --help")


class RunningEnvironmentTests(TestCase):
    """
    The environment running this test suite, installed as the README says
    (C{pip install -e '.[test]' --config-settings editable_mode=compat}),
    lets twistd find the mockex plugin.
    """

    def test_twistdListsMockex(self) -> None:
        """
        C{twistd --help}, run by this interpreter outside the checkout and
        without C{PYTHONPATH}, lists C{mockex}.  The default editable mode
        (C{pip install -e .} without C{editable_mode=compat}) fails this:
        setuptools' import hook makes C{mockex} importable but is invisible
        to C{twisted.plugin}.  (In-process, trial's C{sys.path} holds the
        checkout, which would hide the problem.)
        """
        scratch = tempfile.mkdtemp(prefix="mockex-twistd-")
        self.addCleanup(shutil.rmtree, scratch, ignore_errors=True)
        result = subprocess.run(
            [sys.executable, "-c", TWISTD, "--help"],
            cwd=scratch,
            env=_cleanEnvironment(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        usage = result.stdout + result.stderr
        self.assertEqual(result.returncode, 0, usage)
        self.assertTrue(
            re.search(r"^\s+mockex\s", usage, re.MULTILINE),
            f"twistd --help run by {sys.executable} does not list mockex; "
            "was mockex installed with "
            "pip install -e '.[test]' --config-settings editable_mode=compat?"
            f"\n{usage}",
        )
