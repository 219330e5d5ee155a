"""moto's S3 server on a free local port: a real HTTP server speaking S3's wire protocol (and CORS)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def client(endpoint: str, region: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


@contextmanager
def s3_server(bucket: str, region: str = "eu-west-1") -> Iterator[str]:
    """The endpoint of a fresh server holding one versioned bucket (as the data stack makes it)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        s3 = client(endpoint, region)
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        yield endpoint
    finally:
        server.stop()


def runtime_env(endpoint: str, bucket: str, region: str = "eu-west-1") -> dict[str, str]:
    """What a Blu server needs to stage large files in that bucket."""
    return {"BLU_FILES_BUCKET": bucket, "AWS_REGION": region, "AWS_ENDPOINT_URL_S3": endpoint, **CREDENTIALS}
