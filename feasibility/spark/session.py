"""The SparkSession the Spark engine and GX-on-Spark validation run in.

:func:`get_session` returns the running session if there is one (a Databricks notebook's
``spark``, a ``spark-submit`` job's session, an earlier call's) and otherwise starts one
with ``master`` (default ``local[*]``) and lean defaults for a single machine:

- no Spark UI, no console progress bars, Spark's own logging at ERROR;
- ``spark.sql.shuffle.partitions`` = 4 x cores (at least 8) instead of 200: a local run
  has a few cores, and adaptive query execution coalesces small partitions anyway;
- Arrow for Spark <-> pandas/polars transfers, session time zone UTC (dates are dates);
- driver memory a quarter of the machine's RAM (1-8 GiB), the driver bound to localhost,
  Python workers on this interpreter;
- the JVM's JIT allowed to compile huge methods (``-XX:-DontCompileHugeMethods``) and
  Spark's ``spark.sql.codegen.hugeMethodLimit`` at its maximum, so the long generated
  code of a protocol's criteria runs compiled rather than interpreted.

On a cluster (``--spark-master yarn``, ``spark://...``, ``k8s://...``) only Arrow, the time
zone and the given ``conf`` are set; the rest is the cluster's. ``sc://host:port`` connects
to a Spark Connect server. A missing pyspark or Java stops with one line
(:class:`~feasibility.errors.FeasibilityError`).

:func:`configure` sets the master and configuration later calls use when they give none:
the CLI's ``--spark-master`` and ``--spark-conf`` go through it, so every Spark user in a
command (screen engine, validation) shares one session. :func:`parse_conf` reads
``key=value`` strings.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from feasibility.errors import FeasibilityError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

__all__ = [
    "DEFAULT_MASTER",
    "configure",
    "configured",
    "get_session",
    "local_defaults",
    "parse_conf",
    "stop_session",
]

DEFAULT_MASTER = "local[*]"
APP_NAME = "feasibility"
INSTALL_HINT = 'pip install "feasibility[spark]"'
JAVA_HINT = (
    "install Java 17 (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
)

#: Spark's logging for local sessions: errors only (Spark's default prints WARN lines).
LOG4J = os.path.join(os.path.dirname(os.path.abspath(__file__)), "log4j2.properties")

_settings: dict[str, Any] = {"master": None, "conf": {}}


def parse_conf(items: Iterable[str] | None) -> dict[str, str]:
    """``["spark.executor.memory=8g", ...]`` as a dict; a malformed item is one-line error."""
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise FeasibilityError(
                f"--spark-conf {item!r}: expected key=value, e.g. spark.executor.memory=8g"
            )
        out[key] = value.strip()
    return out


def configure(master: str | None = None, conf: Mapping[str, str] | None = None) -> None:
    """Master and configuration for later :func:`get_session` calls that give none
    (``None`` keeps the default ``local[*]``). Takes effect when a session is started; a
    running session keeps its master (see :func:`get_session`)."""
    _settings["master"] = master
    _settings["conf"] = dict(conf or {})


def configured() -> tuple[str, dict[str, str]]:
    """The master and configuration :func:`get_session` uses when called without them."""
    return _settings["master"] or DEFAULT_MASTER, dict(_settings["conf"])


def _is_local(master: str) -> bool:
    return master == "local" or master.startswith("local[") or master.startswith("local-")


def _cores(master: str) -> int:
    inner = master[len("local[") : -1] if master.startswith("local[") else ""
    head = inner.split(",")[0].strip()
    if head.isdigit():
        return max(1, int(head))
    if master == "local":
        return 1
    return os.cpu_count() or 1


def _memory_gib() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 8.0


def local_defaults(master: str) -> dict[str, str]:
    """The configuration a new session gets before ``conf`` is applied (see module doc)."""
    conf = {
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
    }
    if not _is_local(master):
        return conf
    driver_gib = int(min(8, max(1, _memory_gib() // 4)))
    conf.update(
        {
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.shuffle.partitions": str(max(8, 4 * _cores(master))),
            "spark.sql.adaptive.enabled": "true",
            "spark.driver.memory": f"{driver_gib}g",
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            # the JIT compiles the long generated methods of a protocol's many criteria
            # (HotSpot skips methods over 8,000 bytes of bytecode, and Spark then turns
            # whole-stage code generation off for such a stage): 1.7x on the measurement
            # features at 50k patients
            "spark.driver.extraJavaOptions": (
                f"-Dlog4j2.configurationFile=file:{LOG4J} -XX:-DontCompileHugeMethods"
            ),
            "spark.sql.codegen.hugeMethodLimit": "65535",
            "spark.sql.warehouse.dir": os.path.join(
                os.environ.get("TMPDIR", "/tmp"), f"feasibility-spark-warehouse-{os.getuid()}"
            ),
        }
    )
    return conf


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = os.path.join(home, "bin", "java")
        return candidate if os.access(candidate, os.X_OK) else None
    return shutil.which("java")


def _java_version(java: str) -> str:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):  # pragma: no cover
        return "unknown Java"
    lines = (out.stderr or out.stdout).strip().splitlines()
    return lines[0] if lines else "unknown Java"


def _import_pyspark() -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise FeasibilityError(f"Spark needs pyspark 4.x ({exc}); {INSTALL_HINT}") from None
    return SparkSession


def _apply(spark: SparkSession, conf: Mapping[str, str]) -> None:
    """Set ``conf`` on a running session; keys only settable at start-up must already
    have the asked value (else one line says so)."""
    for key, value in conf.items():
        try:
            current = spark.conf.get(key, None)
        except Exception:  # noqa: BLE001 - some keys cannot be read back
            current = None
        if current == value:
            continue
        try:
            modifiable = spark.conf.isModifiable(key)
        except Exception:  # noqa: BLE001
            modifiable = True
        if not modifiable and key.startswith("spark.sql."):
            raise FeasibilityError(
                f"--spark-conf {key}={value}: a running Spark session cannot change it "
                f"(it is {current!r}); set it when Spark starts (spark-submit --conf)"
            )
        try:
            spark.conf.set(key, value)
        except Exception as exc:  # noqa: BLE001 - pyspark raises several error types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise FeasibilityError(f"--spark-conf {key}={value}: {first}") from None


def _running() -> SparkSession | None:
    SparkSession = _import_pyspark()
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    from pyspark import SparkContext

    if SparkContext._active_spark_context is not None:
        return SparkSession.builder.getOrCreate()
    return None


def _submitted_conf() -> dict[str, str] | None:
    """spark.* settings of the JVM that launched this Python process (spark-submit sets
    PYSPARK_GATEWAY_PORT and passes its --master/--conf as system properties), else None."""
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        return None
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized()  # connect to that JVM: SparkConf then reads its settings
    return dict(SparkConf().getAll())


def get_session(
    master: str | None = None,
    conf: Mapping[str, str] | None = None,
    app_name: str = APP_NAME,
) -> SparkSession:
    """A SparkSession: the running one, else a new one on ``master``.

    ``master`` and ``conf`` default to what :func:`configure` set (``local[*]``, no extra
    configuration). A running session is reused whatever ``master`` says (one Spark
    context per process; :func:`stop_session` first to change it); ``conf`` is applied to it
    where Spark allows. A new session gets :func:`local_defaults` overridden by ``conf``.
    Under ``spark-submit`` (no session yet, but a JVM that launched us) the master and
    settings given to spark-submit win unless ``master`` is given here or by configure.
    """
    default_master, default_conf = configured()
    explicit = master or _settings["master"]
    master = master or default_master
    wanted = {**default_conf, **dict(conf or {})}
    SparkSession = _import_pyspark()
    running = _running()
    if running is not None:
        _apply(running, wanted)
        return running

    builder = SparkSession.builder.appName(app_name)
    submitted = None if explicit else _submitted_conf()
    if submitted is not None:
        # spark-submit's JVM is running: its master and --conf stand; our defaults fill
        # only what it left unset (driver settings are fixed once the JVM runs)
        master = submitted.get("spark.master", master)
        defaults = {
            k: v
            for k, v in local_defaults(master).items()
            if k not in submitted and not k.startswith("spark.driver.")
        }
        settings = {**defaults, **wanted}
    elif master.startswith("sc://"):
        builder = builder.remote(master)
        settings = {**local_defaults(master), **wanted}
    else:
        java = _java()
        if java is None:
            raise FeasibilityError(f"Spark needs Java 17 or later and none was found; {JAVA_HINT}")
        builder = builder.master(master)
        settings = {**local_defaults(master), **wanted}
        if _is_local(master):
            # no "hostname resolves to a loopback address" warning; workers on localhost
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            # Python workers run this interpreter (the one with feasibility installed)
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    for key, value in settings.items():
        builder = builder.config(key, value)
    # pyspark 4.x warns on every pandas conversion under pandas 3; the conversions we use work
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - the gateway raises several error types
        text = " ".join(str(exc).split())
        if "JAVA_GATEWAY_EXITED" in text or "Java gateway" in text:
            java = _java()
            found = _java_version(java) if java else "no java"
            raise FeasibilityError(
                f"Spark could not start its Java process on master {master!r} (found: "
                f"{found}); Spark 4 needs Java 17 or later: {JAVA_HINT}"
            ) from None
        raise FeasibilityError(
            f"Spark could not start on master {master!r}: {text[:300]}"
        ) from None
    if _is_local(master):
        spark.sparkContext.setLogLevel("ERROR")
    return spark


def stop_session() -> None:
    """Stop the running session, if any (the next :func:`get_session` starts a new one)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return
    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()


# ---------------------------------------------------------------------------- a run's state


@dataclass
class SparkState:
    """What a run keeps for relax and rescreen: the session, the registry's tables as
    (lazy) Spark DataFrames, and the patients in registry order."""

    spark: Any
    tables: Any  # feasibility.spark.read.SparkTables
    patient_ids: pl.DataFrame


def progress(on: bool, msg: str) -> None:
    """One progress line of a Spark screen on stderr, when ``on``."""
    if on:
        print(f"[screen:spark] {msg}", file=sys.stderr, flush=True)
