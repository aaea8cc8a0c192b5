# The chat example backend (examples/chat/backend.py): Python standard library only.
# Built by deploy/compose.yaml with the repository root as context.
FROM python:3.12-slim-bookworm
RUN useradd --system --uid 10002 --no-create-home --shell /usr/sbin/nologin chat
COPY examples/chat/backend.py /app/backend.py
COPY examples/chat/static /app/static
USER 10002:10002
ENV CHAT_LISTEN=0.0.0.0:3000 PYTHONUNBUFFERED=1
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s CMD ["python3", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=2).status != 200)"]
CMD ["python3", "/app/backend.py"]
