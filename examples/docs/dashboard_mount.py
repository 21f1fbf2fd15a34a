"""The dashboard mounted in your own Starlette (or FastAPI) app, behind your own auth."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Mount

from simple_async_tasks import TaskApp
from simple_async_tasks.dashboard import create_dashboard

tasks = TaskApp("memory://")


def is_operator(request: Request) -> bool:
    """Your app's own check: a session, a header set by your proxy, ..."""
    return request.headers.get("x-operator") == "yes"


web = Starlette(
    routes=[
        Mount("/ops/tasks", app=create_dashboard(tasks, authorize=is_operator)),
        # or: create_dashboard(tasks) with $SIMPLE_ASYNC_TASKS_DASHBOARD_TOKEN set
        # or: create_dashboard(tasks, read_only=True)
    ]
)

if __name__ == "__main__":
    from starlette.testclient import TestClient

    client = TestClient(web)
    print(client.get("/ops/tasks/api/stats").status_code)  # 403: not an operator
    print(client.get("/ops/tasks/api/stats", headers={"x-operator": "yes"}).json())
