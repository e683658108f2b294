"""
Tests for mockex.

Importing this package registers two Hypothesis profiles and loads one:

``ci`` (the default)
    Deterministic: ``derandomize=True`` makes every run explore the same
    examples, so a red build is reproducible and a green build does not turn
    red because Hypothesis happened to wander somewhere new (Klein dropped
    Hypothesis after exactly that kind of non-deterministic CI).  No example
    database (``database=None``) so nothing leaks between runs or machines,
    no deadline (timings on shared CI machines are noise), ``too_slow`` health
    check suppressed for the same reason, and ``print_blob=True`` so a
    failure prints the ``@reproduce_failure`` blob needed to replay it.

``dev``
    Hypothesis' defaults (random exploration, example database in
    ``.hypothesis/``) without a deadline.  Use it locally to hunt for new
    failures: ``MOCKEX_HYPOTHESIS_PROFILE=dev python -m twisted.trial mockex``.

The profile is chosen by the environment variable ``MOCKEX_HYPOTHESIS_PROFILE``
and defaults to ``ci``, so both CI and a plain ``python -m twisted.trial
mockex`` are deterministic.  This follows ``twisted/trial/test/__init__.py``.
"""

import os

try:
    from hypothesis import HealthCheck, settings
    from hypothesis.errors import InvalidArgument
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "mockex's test suite needs hypothesis, which is in the 'test' extra. "
        "Install it with: pip install -e '.[test]' "
        "--config-settings editable_mode=compat"
    ) from e

PROFILE_ENVIRONMENT_VARIABLE = "MOCKEX_HYPOTHESIS_PROFILE"
DEFAULT_PROFILE = "ci"

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None)


def _loadProfile() -> None:
    """
    Load the Hypothesis profile named by C{MOCKEX_HYPOTHESIS_PROFILE}
    (default C{ci}).
    """
    name = os.environ.get(PROFILE_ENVIRONMENT_VARIABLE) or DEFAULT_PROFILE
    try:
        settings.load_profile(name)
    except InvalidArgument as e:
        raise ValueError(
            f"{PROFILE_ENVIRONMENT_VARIABLE}={name!r} is not a registered "
            "Hypothesis profile; use 'ci' or 'dev'."
        ) from e


_loadProfile()
