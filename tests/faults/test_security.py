"""Security checks: JSON only, no payloads or credentials in logs, least-privilege IAM."""

from __future__ import annotations

import base64
import json
import logging
import pickle
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from simple_async_tasks import (
    AsyncTaskStatus,
    InMemoryTaskDao,
    InMemoryTaskQueue,
    RetryLaterError,
    RetryPolicy,
    enqueue_many,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.aws import DynamoTaskDao, SqsTaskQueue, create_sqs_handler
from simple_async_tasks.contracts import MutexLock, ParcelMeta, TaskParcel

from ..aws.conftest import REGION, lambda_event, queue_arn, receive_all
from ..tasks import SendEmail, SyncAccount

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-planted-value-7f1c"
KEY_SECRET = "ada.lovelace.planted-key@example.com"  # unique keys are often e-mail addresses
AWS_SECRET = "PLANTED-AWS-SECRET-KEY-do-not-log"


def test_a_pickled_parcel_is_rejected_as_data():
    handler = create_sqs_handler(
        with_execute_lifecycle(
            lambda t: None, dao=InMemoryTaskDao(SendEmail), queue=InMemoryTaskQueue()
        )
    )
    bodies = [
        base64.b64encode(pickle.dumps(SendEmail(user_id="u1"))).decode(),
        pickle.dumps({"task": {}, "meta": {}}).decode("latin-1"),
        json.dumps(
            {
                "task": {"__class__": "subprocess.Popen", "args": ["id"]},
                "meta": {"taskType": "SendEmail"},
            }
        ),
        json.dumps({"task": {"user_id": {"__reduce__": ["os.system", ["id"]]}}, "meta": {}}),
    ]
    records = [
        {"messageId": f"m{i}", "body": b, "eventSource": "aws:sqs", "eventSourceARN": "arn"}
        for i, b in enumerate(bodies)
    ]
    response = handler({"Records": records}, None)
    assert {f["itemIdentifier"] for f in response["batchItemFailures"]} == {"m0", "m1", "m2", "m3"}


@pytest.mark.aws
def test_logs_carry_ids_not_payloads_or_credentials(aws_endpoint, table, queue_url, caplog):
    import boto3

    kw: dict[str, Any] = {
        "region_name": REGION,
        "aws_access_key_id": "AKIDPLANTED",
        "aws_secret_access_key": AWS_SECRET,
    }
    dynamodb = boto3.client("dynamodb", endpoint_url=aws_endpoint.dynamodb, **kw)
    sqs = boto3.client("sqs", endpoint_url=aws_endpoint.sqs, **kw)
    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb)
    queue = SqsTaskQueue(queue_url, client=sqs)

    def logic(task: SendEmail) -> None:
        if task.user_id.endswith("fails"):
            raise RuntimeError(f"could not mail {task.email}")

    execute = with_execute_lifecycle(
        logic, dao=dao, queue=queue, retry=RetryPolicy(max_attempts=2, initial_delay=timedelta(0))
    )
    enqueue = with_queue_lifecycle(
        get_new=lambda u: SendEmail(user_id=u, email=f"{SECRET}@example.com"), dao=dao, queue=queue
    )
    handler = create_sqs_handler(execute)
    with (
        caplog.at_level(logging.DEBUG, logger="simple_async_tasks"),
        caplog.at_level(logging.INFO),
    ):
        for user in ("ok", "fails"):
            enqueue(f"{KEY_SECRET}-{user}")
        ghost = TaskParcel(
            task=SendEmail(user_id=f"{KEY_SECRET}-never-stored"),
            meta=ParcelMeta.for_queue(queue, "SendEmail"),
        )
        queue.push(ghost)  # a parcel whose record is missing: TaskNotFoundError, logged
        for _ in range(3):
            messages = receive_all(sqs, queue_url)
            handler(lambda_event(messages, queue_arn(sqs, queue_url)), None)
    failed = dao.get(f"{KEY_SECRET}-fails")
    assert failed.status is AsyncTaskStatus.FAILED
    assert SECRET in (failed.last_error or "")  # kept on the record for the operator ...
    text = caplog.text
    assert "failed" in text  # ... while logs carry ids and statuses
    assert dao.get(f"{KEY_SECRET}-ok").uuid in text
    assert ghost.task.uuid in text
    assert SECRET not in text
    assert AWS_SECRET not in text
    above_debug = "\n".join(r.getMessage() for r in caplog.records if r.levelno > logging.DEBUG)
    assert KEY_SECRET not in above_debug  # keys only at DEBUG


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.Loader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node)}
    return {suffix: loader.construct_mapping(node)}  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _tag)

EVENT_SOURCE_MAPPING = {
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
}
TRANSACTION_ITEMS = {
    "Update": "dynamodb:UpdateItem",
    "Put": "dynamodb:PutItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
SQS_ACTIONS = {"SendMessageBatch": "SendMessage"}


def _granted(template: dict[str, Any], role_name: str) -> dict[str, set[str]]:
    role = template["Resources"][role_name]["Properties"]
    grants: dict[str, set[str]] = {}
    for policy in role["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            resource = json.dumps(statement["Resource"])
            assert "*" not in resource, f"wildcard resource in {policy['PolicyName']}"
            for action in statement["Action"]:
                assert "*" not in action, f"wildcard action {action}"
                grants.setdefault(action, set()).add(resource)
    return grants


class _Calls:
    """The IAM actions behind the calls made through the clients while recording."""

    def __init__(self, *clients: Any) -> None:
        self.used: set[str] = set()
        self.clients = clients

    def _record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        service = model.service_model.endpoint_prefix
        if model.name == "TransactWriteItems":
            for item in params["TransactItems"]:
                self.used.update(TRANSACTION_ITEMS[kind] for kind in item)
        else:
            self.used.add(f"{service}:{SQS_ACTIONS.get(model.name, model.name)}")

    def __enter__(self) -> set[str]:
        for client in self.clients:
            client.meta.events.register("before-parameter-build", self._record)
        return self.used

    def __exit__(self, *_: object) -> None:
        for client in self.clients:
            client.meta.events.unregister("before-parameter-build", self._record)


@pytest.mark.aws
def test_each_function_role_grants_exactly_what_its_code_calls(dynamodb, sqs, table, queue_url):
    from simple_async_tasks.operations import Scheduler, recurring_schedule
    from simple_async_tasks.testing import FakeClock

    emails = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb)
    accounts = DynamoTaskDao(SyncAccount, table_name=table, client=dynamodb)
    queue = SqsTaskQueue(queue_url, client=sqs)
    with_queue_lifecycle(get_new=lambda: SendEmail(user_id="a"), dao=emails, queue=queue)()
    enqueue_many([SendEmail(user_id="b")], dao=emails, queue=queue)
    enqueue_many([SyncAccount(account_id="x", job=1)], dao=accounts, queue=queue)

    def send(task: SendEmail) -> None:
        if task.user_id == "b":
            raise RetryLaterError("the provider asks to wait")  # a push of the retry

    handler = create_sqs_handler(
        [
            with_execute_lifecycle(send, dao=emails, queue=queue),
            with_execute_lifecycle(lambda t: None, dao=accounts, queue=queue),
        ]
    )
    messages = receive_all(sqs, queue_url)
    assert len(messages) == 3
    with _Calls(dynamodb, sqs) as executor_used:
        response = handler(lambda_event(messages, queue_arn(sqs, queue_url)), None)
        now = datetime.now(timezone.utc)
        accounts.release_mutex(MutexLock(key="k", owner="o", acquired_at=now, expires_at=now))
    assert response == {"batchItemFailures": []}
    assert accounts.get('["x",1]').status is AsyncTaskStatus.FULFILLED

    clock = FakeClock(datetime.now(timezone.utc))
    timed = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb, clock=clock)
    later = SendEmail(user_id="later", execute_after=clock.now() + timedelta(days=1))
    enqueue_many([later, SendEmail(user_id="lost")], dao=timed, queue=queue, clock=clock)
    clock.advance(timedelta(days=1, minutes=1))  # "later" is due, "lost" is stale
    schedule = recurring_schedule(
        name="hourly",
        get_new=lambda moment: SendEmail(user_id=f"h{moment.hour}"),
        every=timedelta(hours=1),
        start_at=clock.now(),
        dao=timed,
        queue=queue,
        clock=clock,
    )
    with _Calls(dynamodb, sqs) as scheduler_used:
        report = Scheduler(schedules=[schedule], clock=clock).run_once()
    assert (report.enqueued, report.promoted) == (1, 1)
    assert report.requeued >= 1  # "lost" (and "b", put back a day ago by this clock)

    template = yaml.load((ROOT / "deploy" / "template.yaml").read_text(), Loader=_CfnLoader)
    logs = {"logs:CreateLogStream", "logs:PutLogEvents"}
    for role, used, extra, log_group in (
        ("ExecutorRole", executor_used, EVENT_SOURCE_MAPPING, "ExecutorLogGroup"),
        ("SchedulerRole", scheduler_used, set(), "SchedulerLogGroup"),
    ):
        granted = _granted(template, role)
        assert set(granted) == used | extra | logs, role
        for action, resources in granted.items():
            text = " ".join(resources)
            if action.startswith("dynamodb:"):
                assert "TasksTable" in text
            elif action.startswith("sqs:"):
                assert "TasksQueue" in text
                assert "DeadLetterQueue" not in text
            else:
                assert text.count("LogGroup") == 1
                assert log_group in text
    assert "dynamodb:Query" not in _granted(template, "ExecutorRole")
    scheduler_query = _granted(template, "SchedulerRole")["dynamodb:Query"]
    assert json.dumps(sorted(scheduler_query)).count("/index/gsi1") == 1
