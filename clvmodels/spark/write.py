"""Writing a Spark DataFrame where Spark writes, replacing the old output only on success."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def write_spark_table(frame: DataFrame, path: str, *, fmt: str = "parquet") -> str:
    """Write a Spark DataFrame as a folder of part files, replacing ``path`` only on success.

    Spark writes into a hidden sibling (``.NAME.tmp-...``) and the folder is renamed into
    place through Hadoop's file system (atomic on HDFS and local disks; a copy on object
    stores), so a failed job leaves the previous output as it was.

    Parameters
    ----------
    frame : pyspark.sql.DataFrame
    path : str
        Any path Spark writes (local, ``hdfs://``, ``s3a://``, ...).
    fmt : {"parquet", "csv", "json", "orc"}
        CSV gets a header row.
    """
    spark = frame.sparkSession
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    target = jvm.org.apache.hadoop.fs.Path(path)
    fs = target.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    staging = jvm.org.apache.hadoop.fs.Path(
        target.getParent(), f".{target.getName()}.tmp-{uuid.uuid4().hex[:12]}"
    )
    writer = frame.write.mode("error")
    if fmt == "csv":
        writer = writer.option("header", True)
    try:
        writer.format(fmt).save(staging.toString())
        if fs.exists(target):
            backup = jvm.org.apache.hadoop.fs.Path(
                target.getParent(), f".{target.getName()}.old-{uuid.uuid4().hex[:12]}"
            )
            fs.rename(target, backup)
            fs.rename(staging, target)
            fs.delete(backup, True)
        elif not fs.rename(staging, target):
            raise OSError(f"could not move the output into place at {path}")
    finally:
        if fs.exists(staging):
            fs.delete(staging, True)
    return path
