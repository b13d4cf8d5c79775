"""The baseline app: a bare FastAPI hello-world, served with the same uvicorn settings and the
garbage collector's settings `dpa serve` takes (app.heap)."""

from fastapi import FastAPI

from app import heap

app = FastAPI()
heap.freeze()


@app.get("/hello")
def hello() -> dict[str, str]:
    return {"hello": "world"}
