"""The audit record, newest first; `v` verifies every link, the signatures and the witness."""

from __future__ import annotations

from typing import Any

from lookout.console.format import safe
from lookout.console.messages import Failed
from lookout.console.screens.base import LookoutScreen
from lookout.console.widgets import KeyedTable
from lookout.scheduler import signing
from lookout.storage import audit, watch
from lookout.storage.db import Store
from lookout.storage.records import AuditEntry, AuditVerification
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static


def fetch(store: Store) -> list[AuditEntry]:
    return audit.entries(store, limit=500)


class AuditScreen(LookoutScreen):
    BINDINGS = [Binding("v", "verify", "Verify chain", id="audit.verify")]

    def compose_body(self) -> ComposeResult:
        yield Static(
            Text("Audit log · press v to verify the chain", style="bold"),
            id="audit-title",
            classes="title",
        )
        yield KeyedTable(
            [
                ("seq", "Seq"),
                ("at", "Age"),
                ("actor", "Actor"),
                ("action", "Action"),
                ("subject", "Subject"),
                ("reason", "Reason"),
                ("hash", "Hash"),
            ],
            flex=("reason", "subject"),
            id="entries",
        )

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#entries").focus()

    def sources(self) -> dict[str, Any]:
        return {"audit": (watch.audit_key, fetch)}

    def show_data(self, name: str, data: list[AuditEntry]) -> None:
        times = self.lookout.times
        self.query_one("#entries", KeyedTable).relabel({"at": times.label("At (UTC)")})
        self.query_one("#entries", KeyedTable).sync(
            [
                (
                    str(e.seq),
                    (
                        Text(str(e.seq)),
                        Text(times.ago(e.at)),
                        safe(e.actor, 60),
                        safe(e.action, 40),
                        safe(e.subject, 120),
                        safe(e.reason, 300),
                        Text(e.hash[:10], style="dim"),
                    ),
                )
                for e in data
            ]
        )

    def action_verify(self) -> None:
        self._verify()

    @work(thread=True, exclusive=True, group="verify")
    def _verify(self) -> None:
        try:
            ws = self.lookout.ws
            result = signing.verify(ws.config, ws.store)
        except Exception as exc:
            self.lookout.post_message(Failed("verifying the audit chain", exc))
            return
        self.app.call_from_thread(self._verified, result)

    def _verified(self, result: AuditVerification) -> None:
        if result.verified:
            said = [f"all {result.entries} entries hold", f"{result.signed} signed"]
            if result.legacy:
                said.append(f"{result.legacy} legacy")
            if result.witness is not None:
                said.append(f"witness at {result.witness.seq} reached")
            text = Text("Audit log · ✓ verified: " + ", ".join(said), style="bold green")
        else:
            text = Text("Audit log · ✗ broken: ", style="bold red")
            text.append_text(safe(result.problem or f"entry {result.first_bad}", 80))
        self.query_one("#audit-title", Static).update(text)
