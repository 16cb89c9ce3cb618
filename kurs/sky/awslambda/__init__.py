"""The Lambda service: runs functions deployed through boto3 in warm local Python workers."""
