"""The index's life: template, versioned indices behind a read and a write alias, retirement.

Versioned indices ``<prefix>-articles-v<N>`` are created from one index template, behind a read
alias and a write alias, so a new mapping can be built beside the old one and switched to
atomically (see docs/search.md). Superseded versions go to the lifecycle policy (ILM on
Elasticsearch, ISM on OpenSearch where the plugin answers).
"""

from __future__ import annotations

import logging
import os
import re
import socket
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from kernel.settings import Settings
from pipelines.index.documents import index_template_body, load_template
from pipelines.index.transport import UNSUPPORTED_ENDPOINT, SearchEngineError

log = logging.getLogger(__name__)

LIFECYCLE_POLICY_NAME = "newswire-superseded-articles"
ISM_NOT_AVAILABLE = "ISM not available"
ILM_NOT_AVAILABLE = "ILM not available"
_VERSION_RE = re.compile(r"-v(\d+)$")
REBUILD_LEASE_KEY = "newswire_rebuild"
REBUILD_LEASE = timedelta(hours=12)  # the reprocess task's execution timeout: no rebuild lives longer


def index_path(*names: str) -> str:
    return "/" + "/".join(quote(name, safe=",*") for name in names)


class IndexLifecycle:
    """Setup, versions and aliases; mixed into :class:`pipelines.index.SearchEngine`."""

    settings: Settings
    flavour: str

    # --- setup ---------------------------------------------------------------------

    def ensure_ready(self) -> str:
        """Template, lifecycle policy, first versioned index and both aliases, where missing."""
        self.put_index_template()
        self.install_lifecycle_policy()
        if not self.exists(index_path("_alias", self.settings.read_alias)):
            index = self.settings.index_name(1)
            if not self.exists(index_path(index)):
                self.create_index(index)
            self._attach_aliases(index)
        return self.current_index()

    def put_index_template(self) -> None:
        name = f"{self.settings.index_prefix}-articles"
        self.request("PUT", index_path("_index_template", name), index_template_body(self.settings))

    def install_lifecycle_policy(self) -> str:
        """ILM or ISM, whichever the engine answers on; returns what happened in one line."""
        api = self._lifecycle_api()
        if api is None:
            missing = ILM_NOT_AVAILABLE if self.flavour == "elasticsearch" else ISM_NOT_AVAILABLE
            log.info("%s on this engine: superseded index versions are kept until `newswire index retire`", missing)
            return missing
        if api == "ilm":
            self.request("PUT", index_path("_ilm", "policy", LIFECYCLE_POLICY_NAME), load_template("ilm_policy.json"))
            return f"ILM policy {LIFECYCLE_POLICY_NAME} installed"
        path = index_path("_plugins", "_ism", "policies", LIFECYCLE_POLICY_NAME)
        try:
            current = self.request("GET", path)
            params = {"if_seq_no": current["_seq_no"], "if_primary_term": current["_primary_term"]}
        except SearchEngineError as error:
            if error.status != 404:
                raise
            params = None
        self.request("PUT", path, load_template("ism_policy.json"), params=params)
        return f"ISM policy {LIFECYCLE_POLICY_NAME} installed"

    def _lifecycle_api(self) -> str | None:
        """"ilm" or "ism" by what the engine answers (not by its name), or None without either."""
        for api, path in (("ilm", index_path("_ilm", "status")), ("ism", index_path("_plugins", "_ism", "policies"))):
            try:
                self.request("GET", path)
            except SearchEngineError as error:
                if error.status in UNSUPPORTED_ENDPOINT:
                    continue
                raise
            return api
        return None

    def create_index(self, index: str, body: dict | None = None) -> None:
        """An empty index; from the template unless a full body is given (evaluation indices)."""
        self.request("PUT", index_path(index), body or {})

    def delete_index(self, index: str) -> None:
        try:
            self.request("DELETE", index_path(index))
        except SearchEngineError as error:
            if error.status != 404:
                raise

    def _attach_aliases(self, index: str) -> None:
        self.request("POST", "/_aliases", {"actions": [
            {"add": {"index": index, "alias": self.settings.read_alias}},
            {"add": {"index": index, "alias": self.settings.write_alias, "is_write_index": True}},
        ]})

    # --- versions and aliases --------------------------------------------------------

    def versions(self) -> list[str]:
        """Every versioned articles index of this prefix, oldest first."""
        return list(self._version_info())

    def _version_info(self) -> dict[str, dict]:
        pattern = f"{self.settings.index_prefix}-articles-v*"
        indices = self.request("GET", index_path(pattern), params={"expand_wildcards": "open"})
        prefix = f"{self.settings.index_prefix}-articles-v"
        names = [name for name in indices if name.startswith(prefix) and name[len(prefix):].isdigit()]
        return {name: indices[name] for name in sorted(names, key=lambda name: int(_VERSION_RE.search(name).group(1)))}

    def version_roles(self) -> dict[str, str]:
        """Each version's role: ``serving`` (holds an alias), ``building`` (newer, a live rebuild
        holds its lease), ``orphan`` (newer, no alias and no live lease: a rebuild that died
        without cleaning up) or ``superseded`` (older, retired by the lifecycle policy)."""
        info = self._version_info()
        serving = [name for name, index in info.items() if index.get("aliases")]
        roles: dict[str, str] = {}
        for name, index in info.items():
            if name in serving:
                roles[name] = "serving"
            elif serving and list(info).index(name) < list(info).index(serving[-1]):
                roles[name] = "superseded"
            else:
                lease = (index.get("mappings", {}).get("_meta") or {}).get(REBUILD_LEASE_KEY)
                roles[name] = "building" if _lease_alive(lease) else "orphan"
        return roles

    def version_being_built(self) -> str | None:
        """The newer version a live rebuild is filling, until it switches the aliases; never an orphan."""
        building = [name for name, role in self.version_roles().items() if role == "building"]
        return building[-1] if building else None

    def current_index(self) -> str:
        """The index the read alias points at."""
        answer = self.request("GET", index_path("_alias", self.settings.read_alias))
        return sorted(answer)[0]

    def create_next_version(self, held_by_this_process: bool = True) -> str:
        """The next empty version, with a rebuild lease in its ``_meta``.

        The lease names this host and process, so a rebuild killed outright is seen as dead at
        once; an operator's version (``held_by_this_process=False``) is held for
        :data:`REBUILD_LEASE`.
        """
        self.put_index_template()
        versions = self.versions()
        last = int(_VERSION_RE.search(versions[-1]).group(1)) if versions else 0
        index = self.settings.index_name(last + 1)
        self.create_index(index)
        lease = {"started_at": datetime.now(UTC).isoformat(), "host": socket.gethostname(),
                 "pid": os.getpid() if held_by_this_process else None}
        self.request("PUT", index_path(index, "_mapping"), {"_meta": {REBUILD_LEASE_KEY: lease}})
        return index

    def retire_version(self, index: str) -> None:
        """Delete a version that no alias points at (an orphan, or a superseded one)."""
        roles = self.version_roles()
        if index not in roles:
            raise ValueError(f"{index} is not a version of {self.settings.index_prefix}-articles")
        if roles[index] == "serving":
            raise ValueError(f"{index} holds the read or write alias; switch the aliases away first")
        self.delete_index(index)

    def switch_aliases(self, index: str) -> None:
        """Move the read and write alias to ``index`` in one atomic request; retire the old version."""
        if not self.exists(index_path(index)):
            raise SearchEngineError(f"no index {index} to switch to", 404)
        holders = self._alias_holders()
        old = [name for name in holders if name != index]
        actions: list[dict] = [{"remove": {"index": name, "alias": alias}}
                               for name in old for alias in holders[name].get("aliases", {})]
        actions += [
            {"add": {"index": index, "alias": self.settings.read_alias}},
            {"add": {"index": index, "alias": self.settings.write_alias, "is_write_index": True}},
        ]
        self.request("POST", "/_aliases", {"actions": actions})
        for name in old:
            self._retire(name)

    def _alias_holders(self) -> dict[str, dict]:
        names = f"{self.settings.read_alias},{self.settings.write_alias}"
        try:
            return self.request("GET", index_path("_alias", names))
        except SearchEngineError as error:
            if error.status == 404:
                return {}
            raise

    def _retire(self, index: str) -> None:
        """Hand a superseded version to the lifecycle policy, which deletes it after the retention."""
        api = self._lifecycle_api()
        if api == "ilm":
            self.request("PUT", index_path(index, "_settings"), {"index": {
                "lifecycle.name": LIFECYCLE_POLICY_NAME,
                "lifecycle.origination_date": int(datetime.now(UTC).timestamp() * 1000),
            }})
        elif api == "ism":
            self.request("POST", index_path("_plugins", "_ism", "add", index), {"policy_id": LIFECYCLE_POLICY_NAME})


def _lease_alive(lease: dict | None) -> bool:
    if not isinstance(lease, dict) or not lease.get("started_at"):
        return False
    if lease.get("pid") and lease.get("host") == socket.gethostname():
        try:
            os.kill(int(lease["pid"]), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # alive, only owned by another user
        return True
    started = datetime.fromisoformat(lease["started_at"])
    return datetime.now(UTC) - started < REBUILD_LEASE
