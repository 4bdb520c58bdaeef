"""The one place newswire reads its configuration from.

Every value comes from an environment variable prefixed ``NEWSWIRE_`` (for example
``NEWSWIRE_SEARCH_URL``), with the defaults below. The CLI, the crawler and the DAGs
all call :func:`get_settings`; nothing else reads the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path.home() / ".local" / "share" / "newswire"
MAX_PROCESS_WORKERS = 4  # each worker holds its own copy of the processing stack (about 190 MB)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSWIRE_", extra="ignore")

    # --- search engine -------------------------------------------------------------
    search_url: str = Field(
        "http://127.0.0.1:9250", description="Elasticsearch or OpenSearch URL (flavour detected); the nodes of "
        "one cluster separated by commas, so that a node that is down is passed over."
    )
    search_api_key: SecretStr | None = Field(None, description="API key (Elasticsearch).")
    search_user: str | None = Field(None, description="Basic-auth user.")
    search_password: SecretStr | None = Field(None, description="Basic-auth password.")
    search_ca_certs: str | None = Field(None, description="CA bundle for TLS verification.")
    index_prefix: str = Field("newswire", description="Prefix of every index and alias name.")
    story_window_days: int = Field(
        3, ge=0, description="Days either side of a batch whose indexed articles it is clustered with, so a "
                             "story republished on a later night joins its earlier copies (0: the batch alone).")
    bulk_chunk_size: int = Field(500, description="Documents per bulk request.")
    index_shards: int | None = Field(
        None, ge=1, description="Primary shards of each new articles index version; default: the template's (1). "
        "Fixed once an index exists: a new value takes effect with the next version (`newswire reprocess`).",
    )
    index_replicas: int | None = Field(
        None, ge=0, description="Replicas of each primary shard of a new articles index version; default: the "
        "template's (0, for one node). 1 or more on a cluster, so that losing a node loses no document.",
    )

    # --- storage ---------------------------------------------------------------------
    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Root of local state and processed data.")
    archive_root: str | None = Field(
        None, description="WARC archive root; a local path or an fsspec URL such as s3://bucket/x."
    )
    processed_root: str | None = Field(
        None, description="Processed records root (local path or fsspec URL)."
    )
    dead_letter_root: str | None = Field(
        None, description="Dead-letter files root (local path or fsspec URL); default: dead-letter/ in the data dir."
    )

    # --- crawling --------------------------------------------------------------------
    agencies_file: Path | None = Field(
        None, description="Agency table (crawled sources and credited agencies); default: the bundled one."
    )
    user_agent: str = Field("newswire/0.1 (+{contact_url})", description="Crawler User-Agent.")
    contact_url: str = Field(
        "https://example.org/newswire-crawler", description="Where site owners can reach us."
    )
    http_cache: bool = Field(False, description="Scrapy HTTP cache, for development only.")
    download_timeout: float = Field(30.0, description="Seconds before a request is abandoned.")
    max_page_bytes: int = Field(5_000_000, description="Responses larger than this are skipped.")
    crawl_delay: float = Field(
        1.0, description="Minimum seconds between requests to one site; AutoThrottle starts here."
    )
    retry_backoff: float = Field(
        1.0, description="Seconds before the first retry of a 5xx/timeout; doubled per retry."
    )
    crawl_schedule: str = Field("0 2 * * *", description="Cron schedule of the nightly crawl.")
    crawl_lookback_days: int = Field(
        2,
        description="Days before a scheduled run's interval crawled too, so a missed night is caught up "
        "(what is archived already is skipped).",
    )
    enabled_sources: list[str] = Field(
        default_factory=list,
        description="Source ids to crawl (JSON list); empty means every source enabled in the registry.",
    )
    base_url_overrides: dict[str, str] = Field(
        default_factory=dict,
        description='Point sources at mirrors, as JSON: {"tasnim": "http://127.0.0.1:8701"}.',
    )

    # --- processing ------------------------------------------------------------------
    max_failure_rate: float = Field(
        0.2, description="Processing fails when more than this share of records fail."
    )
    process_workers: int = Field(
        default_factory=lambda: min(os.cpu_count() or 1, MAX_PROCESS_WORKERS), ge=1,
        description="Worker processes that extract and analyse a batch's records; a small batch uses "
        "fewer (default: the machine's cores, at most 4).",
    )

    alert_webhook: SecretStr | None = Field(
        None, description="URL that receives a JSON POST for every Airflow task that fails for good "
        "(dag, run, task, logical date, error); failures are logged at ERROR either way.",
    )

    # --- local engine (tests and demo) -----------------------------------------------
    engine_flavour: Literal["elasticsearch", "opensearch"] = Field(
        "elasticsearch", description="Which local node `newswire engine start` runs."
    )
    engine_port: int = Field(9250, description="HTTP port of the local engine node.")
    engine_heap: str = Field("512m", description="Heap cap of the local engine node.")
    engine_home: Path | None = Field(None, description="Jars, data and pid of the local node.")

    @property
    def archive(self) -> str:
        return self.archive_root or str(self.data_dir / "archive")

    @property
    def processed(self) -> str:
        return self.processed_root or str(self.data_dir / "processed")

    @property
    def state_dir(self) -> Path:
        return self.data_dir / "state"

    @property
    def dead_letters(self) -> str:
        return self.dead_letter_root or str(self.data_dir / "dead-letter")

    @property
    def local_engine_home(self) -> Path:
        return self.engine_home or (Path.home() / ".cache" / "newswire" / "engine")

    @property
    def search_urls(self) -> list[str]:
        """The node URLs of ``search_url``, in the order given."""
        return [url.strip() for url in self.search_url.split(",") if url.strip()]

    @property
    def read_alias(self) -> str:
        return f"{self.index_prefix}-articles"

    @property
    def write_alias(self) -> str:
        return f"{self.index_prefix}-articles-write"

    def index_name(self, version: int) -> str:
        return f"{self.index_prefix}-articles-v{version}"

    @property
    def crawler_user_agent(self) -> str:
        return self.user_agent.format(contact_url=self.contact_url)


def get_settings(**overrides) -> Settings:
    """Fresh settings from the environment (cheap; not cached so tests can change env)."""
    return Settings(**overrides)
