"""Item pipeline: archived pages -> the run's WARC file; at close, seen-state and manifest."""

from __future__ import annotations

from datetime import UTC, datetime

from crawler.archive import WarcArchive, write_manifest
from crawler.items import ArchivedPage
from crawler.state import SeenEntry, open_state
from kernel.archive import parse_warc_path, run_paths


class WarcArchivePipeline:
    """Writes each :class:`ArchivedPage` the spider yields; one instance per source crawl."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    @property
    def run(self):
        return self.crawler.spider.run

    def open_spider(self) -> None:
        run = self.run
        self.warc_url, self.manifest_url = run_paths(
            run.settings.archive, run.source.id, run.run_id, run.report.started_at
        )
        self.archive = WarcArchive(self.warc_url, {
            "software": f"newswire crawler (source {run.source.id})",
            "format": "WARC File Format 1.1",
            "isPartOf": run.run_id,
            "http-header-user-agent": run.settings.crawler_user_agent,
            "robots": "obey",
            "description": f"{run.source.name_en} via {run.base_url}",
        })
        self.entries: list[SeenEntry] = []

    def process_item(self, item):
        if not isinstance(item, ArchivedPage):
            return item
        record_id = self.archive.write(item)
        self.run.report.archive(item.requested_url, item.final_url, record_id, item.url_keys,
                                len(item.exchange.body))
        self.entries += [SeenEntry(item.source_id, key, self.warc_url, record_id) for key in item.url_keys]
        return item

    def close_spider(self) -> None:
        run = self.run
        # The file is published before its keys are recorded, so no key names a file that never
        # appears: on object storage nothing of the file is there until it is closed, and an
        # upload refused or cut off would otherwise leave its articles seen and archived nowhere.
        # Killed in between, the next run loads the published file's keys from its manifest or
        # its metadata records (crawler.state.load_archived). The file is marked loaded with its
        # keys: this machine never reads them back from the archive.
        warc = parse_warc_path(self.warc_url) if self.archive.written else None
        warc_bytes = self.archive.close()
        new_keys = open_state(run.settings).load(warc, self.entries) if warc else 0
        manifest = run.report.manifest(
            finished_at=datetime.now(UTC),
            warc_file=self.warc_url if self.archive.written else None,
            warc_bytes=warc_bytes,
            manifest_file=self.manifest_url,
            new_seen_keys=new_keys,
        )
        write_manifest(self.manifest_url, manifest)
        run.manifests.append(manifest)
