"""DynamoDB storage: the only package that imports PynamoDB."""
