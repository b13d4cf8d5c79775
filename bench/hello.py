"""The baseline app: a bare FastAPI hello-world, served with the same uvicorn settings."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
def hello() -> dict[str, str]:
    return {"hello": "world"}
