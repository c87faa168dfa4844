FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY app.py ./
COPY lib ./lib
COPY pages ./pages
COPY .streamlit/config.toml ./.streamlit/config.toml
RUN mkdir -p data && useradd -r -u 10001 console && chown console data
USER console
EXPOSE 8501 9108
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health')"
CMD ["python", "-m", "streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0"]
