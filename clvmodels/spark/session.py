"""The Spark session clvmodels runs in, and what becomes of Spark's errors.

:func:`spark_session` starts (or returns) a session with the settings the Spark engine
relies on (UTC session time zone, Arrow transfers, nanosecond Parquet timestamps readable);
:func:`session_for_job` holds one for a job and turns the job's Spark and Py4J errors into a
:class:`clvmodels.errors.ClvError` (one line, exit code 2 in the CLI).

pyspark is an optional dependency (``pip install 'clvmodels[spark]'``; Spark 4 needs Java
17). It is imported inside the functions, so ``import clvmodels`` never needs it.

Time zones: sessions made by :func:`spark_session` use UTC, so zone-aware inputs are read as
UTC wall-clock time.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clvmodels.data.readers import first_line
from clvmodels.errors import ClvError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

INSTALL_HINT = (
    "install Java 17 (e.g. apt-get install openjdk-17-jre-headless) "
    "and pip install 'clvmodels[spark]'"
)

#: Settings of every session :func:`spark_session` builds.
SESSION_CONFIG: dict[str, str] = {
    # a purchase day is a calendar day of wall-clock time, as in DuckDB
    "spark.sql.session.timeZone": "UTC",
    # pandas writes nanosecond timestamps, which Spark reads only as integers (ns since epoch)
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
#: Extra settings for a ``local[...]`` master (one machine: no UI, few shuffle partitions).
LOCAL_CONFIG: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
}

#: Spark's logging on a local master: errors only, so a command's own report is what shows.
_QUIET_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
"""


def spark_session(
    master: str | None = "local[2]",
    app_name: str = "clvmodels",
    *,
    config: Mapping[str, str] | None = None,
) -> SparkSession:
    """Start (or return the running) Spark session, with the settings clvmodels relies on.

    Parameters
    ----------
    master : str or None
        ``local[2]``, ``local[*]``, ``yarn``, ``spark://host:7077``, ``k8s://...``; None
        leaves it to Spark (``spark-defaults.conf``, ``local[*]``). Under ``spark-submit``
        its ``--master`` is used and this is ignored.
    app_name : str
        The application's name in the cluster's UI.
    config : mapping, optional
        More Spark settings (``{"spark.driver.memory": "4g"}``), applied last.

    Returns
    -------
    pyspark.sql.SparkSession
        With :data:`SESSION_CONFIG` (UTC session time zone, Arrow transfers, nanosecond
        Parquet timestamps readable) and, for a local master, :data:`LOCAL_CONFIG`. A session
        that is already running is returned as it is.

    Raises
    ------
    ClvError
        When pyspark is not installed or the JVM cannot start (no Java, wrong version),
        saying how to install them.
    """
    pyspark_sql = _import_pyspark()
    session_class = pyspark_sql.SparkSession
    active = session_class.getActiveSession()
    if active is not None:
        return active
    under_submit = "PYSPARK_GATEWAY_PORT" in os.environ  # the JVM launched this Python
    if not under_submit:
        problem = _java_problem()
        if problem is not None:
            raise ClvError(f"the Spark engine cannot start: {problem}. To use it, {INSTALL_HINT}")
    builder = session_class.builder.appName(app_name)
    is_local = False
    if master is not None and not under_submit:
        builder = builder.master(master)
        is_local = master.startswith("local")
    settings = dict(SESSION_CONFIG)
    if is_local:
        settings.update(LOCAL_CONFIG)
    settings.update(config or {})
    log_folder = None
    if is_local and "spark.driver.extraJavaOptions" not in settings:
        log_folder = tempfile.mkdtemp(prefix="clvmodels-spark-")
        log_config = Path(log_folder) / "log4j2.properties"
        log_config.write_text(_QUIET_LOG4J2)
        settings["spark.driver.extraJavaOptions"] = (
            f"-Dlog4j2.configurationFile={log_config.as_uri()}"
        )
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # py4j and pyspark raise many kinds when the JVM will not start
        raise ClvError(
            f"the Spark engine cannot start: the Java process failed ({first_line(exc)}). "
            f"Spark {_pyspark_version()} needs Java 17 or newer: {INSTALL_HINT}"
        ) from exc
    finally:
        if log_folder is not None:  # read once, when the JVM started
            shutil.rmtree(log_folder, ignore_errors=True)
    context = spark.sparkContext
    if context.master.startswith("local") and "PYSPARK_PYTHON" not in os.environ:
        # Python workers default to `python3` on PATH, which need not have clvmodels;
        # on this machine they run this interpreter.
        context.pythonExec = sys.executable
    return spark


def running_session() -> SparkSession | None:
    """The active Spark session, if there is one (None also when pyspark is missing)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    return SparkSession.getActiveSession()


def _import_pyspark() -> Any:
    try:
        import pyspark.sql as pyspark_sql
    except ImportError as exc:
        raise ClvError(
            f"the Spark engine needs pyspark, which is not installed: {INSTALL_HINT}"
        ) from exc
    return pyspark_sql


def _pyspark_version() -> str:
    import pyspark

    return str(pyspark.__version__)


def _java_problem() -> str | None:
    """Why Spark's launcher will not find Java (it uses $JAVA_HOME/bin/java, else PATH)."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        if not (Path(java_home) / "bin" / "java").exists():
            return f"JAVA_HOME is {java_home}, which has no bin/java"
        return None
    if shutil.which("java") is None:
        return "no Java runtime found (java is not on PATH and JAVA_HOME is not set)"
    return None


@contextlib.contextmanager
def session_for_job(master: str | None) -> Iterator[SparkSession]:
    """A Spark session for one job, stopped at the end unless it was running before.

    Errors of the Spark job (a file it cannot read, a failed task) become a ClvError: a
    one-line message (exit code 2 in the CLI) instead of a Java stack trace.

    Parameters
    ----------
    master : str or None
        As in :func:`spark_session`.
    """
    was_running = running_session() is not None
    spark = spark_session(master)
    try:
        yield spark
    except ClvError:
        raise
    except Exception as exc:
        if not is_spark_error(exc):
            raise
        raise ClvError(f"the Spark job failed: {first_line(exc)}") from exc
    finally:
        if not was_running:
            spark.stop()


def is_spark_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from Spark (a PySparkException) or its Java bridge (Py4JError)."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    return isinstance(exc, PySparkException | Py4JError)
