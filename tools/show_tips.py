"""`make tips`: what the running local system holds — tips newest first, their media saved to build/local-media/.

Reads the moto server of `make run` (MOTO_PORT) through the app's own by-status index, like an officer's query will.
"""

from __future__ import annotations

import os
from pathlib import Path

import boto3

from tools.resources import ACCOUNT_ID

STACK = "sampark-local"
REGION = "ap-south-1"
MEDIA_DIR = Path("build/local-media")


def _client(service: str):
    endpoint = f"http://127.0.0.1:{os.environ.get('MOTO_PORT', '5000')}"
    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="local", aws_secret_access_key="local"
    )


def main() -> int:
    dynamodb, s3 = _client("dynamodb"), _client("s3")
    table, bucket = f"{STACK}-tips", f"{STACK}-media-{ACCOUNT_ID}"
    try:
        tips = dynamodb.query(
            TableName=table,
            IndexName="by-status",
            KeyConditionExpression="#s = :new",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":new": {"S": "new"}},
            ScanIndexForward=False,
        )["Items"]
    except Exception as error:  # one friendly line instead of a traceback
        print(f"Cannot reach the local system ({type(error).__name__}). Is `make run` running?")
        return 1
    print(f"{len(tips)} tip(s), newest first")
    for tip in tips:
        _print_tip(tip, dynamodb, s3, table, bucket)
    return 0


def _print_tip(tip: dict, dynamodb, s3, table: str, bucket: str) -> None:
    print(f"\n{tip['reference']['S']}  status={tip['status']['S']}  channel={tip['channel']['S']}")
    print(f"  received {tip['received_at']['S']}  acknowledgement {tip['ack_status']['S']}")
    for text in tip.get("texts", {}).get("L", []):
        print(f"  text: {text['S']}")
    if "location" in tip:
        location = tip["location"]["M"]
        print(f"  location: {location['latitude']['N']}, {location['longitude']['N']}")
    media = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :media)",
        ExpressionAttributeValues={":pk": tip["pk"], ":media": {"S": "MEDIA#"}},
    )["Items"]
    for item in media:
        line = f"  media: {item['kind']['S']} {item['media_status']['S']}"
        if "s3_key" in item:
            path = MEDIA_DIR / item["s3_key"]["S"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(s3.get_object(Bucket=bucket, Key=item["s3_key"]["S"])["Body"].read())
            digest = item["sha256"]["S"][:12]
            line += f" {item['content_type']['S']} {item['size']['N']} bytes sha256 {digest}… → {path}"
        print(line)


if __name__ == "__main__":
    raise SystemExit(main())
