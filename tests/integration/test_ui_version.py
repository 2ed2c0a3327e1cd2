"""The version page over a real server: the lineage drawn as an SVG graph, the model card
rendered from Markdown with the author's raw HTML shown as text, the card downloadable."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from tests.integration.server_fixtures import live_server
from tests.integration.serving_fixtures import LR_COLUMNS, lr_data

from monoloop.registry.aliases import set_alias
from monoloop.registry.service import register_model
from monoloop.workspace import Workspace


@pytest.mark.filterwarnings("ignore:X has feature names")
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_version_page_draws_the_lineage_and_renders_the_card_safely(ws: Workspace) -> None:
    x, y = lr_data(rows=200)
    model = LogisticRegression(max_iter=200).fit(x, y)
    card = {"intended_use": "scoring **leads**\n\n<script>alert('card')</script>"}
    sample = pd.DataFrame(x[:20], columns=LR_COLUMNS)
    register_model(ws, "lr", model, sample_input=sample, card=card)
    set_alias(ws, "lr", "champion", 1)
    with live_server(ws, auth_on=False) as server, server.client() as client:
        html = client.get("/models/lr/versions/1").text
        assert '<svg id="lineage-graph"' in html and 'marker-end="url(#lineage-arrow)"' in html
        assert '<a class="node node-version" data-node=' in html and "@champion" in html
        assert "<h3>Model card: lr version 1</h3>" in html and "<strong>leads</strong>" in html
        assert "<script>alert" not in html and "&lt;script&gt;alert(" in html
        download = client.get("/models/lr/versions/1/card.md")
        assert download.status_code == 200
        assert download.headers["content-type"].startswith("text/markdown")
        assert 'filename="lr-v1-card.md"' in download.headers["content-disposition"]
        assert download.text.startswith("# Model card: lr version 1")
        assert "<script>alert('card')</script>" in download.text, "the Markdown as written"
