"""Adapters for AWS services other than DynamoDB. boto3 is imported only here and in shared.storage."""
