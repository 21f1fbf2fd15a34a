"""The AWS backends built by hand: a DynamoDB table of records and an SQS queue.

Run against AWS (credentials and a region from boto3's usual configuration) or against
local engines (``AWS_ENDPOINT_URL_DYNAMODB`` / ``AWS_ENDPOINT_URL_SQS``), as the tests do.
"""

import os
from datetime import timedelta
from typing import ClassVar

import attrs

from simple_async_tasks import AsyncTask
from simple_async_tasks.aws import DynamoTaskDao, SqsTaskQueue, create_table, sqs_client


@attrs.frozen(kw_only=True)
class SendWelcomeEmail(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("user_id",)
    user_id: str


table = os.environ.get("TASKS_TABLE", "tasks")
create_table(table)  # tests and local use; deploy/template.yaml in production
dao = DynamoTaskDao(SendWelcomeEmail, table_name=table, retention=timedelta(days=30))

queue_url = (
    os.environ.get("TASKS_QUEUE_URL") or sqs_client().create_queue(QueueName="tasks")["QueueUrl"]
)
queue = SqsTaskQueue(queue_url)  # e.g. https://sqs.eu-west-1.amazonaws.com/123456789012/tasks
print(dao.get("nobody"), queue.max_delay)
