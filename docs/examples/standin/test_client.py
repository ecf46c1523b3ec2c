"""Tests of client.py against orgd as a stand-in: a seed file, the control API's clock and fault rules.

    python3 docs/examples/standin/test_client.py              # orgd from PATH, or ORGD_BIN=path/to/orgd

Each test starts from the seed (POST /_orgd/reset), so tests never see each other's changes.
"""

import json
import os
import pathlib
import shutil
import ssl
import subprocess
import sys
import unittest
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from client import ApiError, OrgvueClient  # noqa: E402

CONTROL = "example-control-secret"
TOKEN = "orgd_acmecitokenxxxxx_CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"  # fixed in seed.yaml


class OrgdStandIn:
    """Starts `orgd serve --ephemeral` with the seed and talks to its control API."""

    def __init__(self):
        orgd = os.environ.get("ORGD_BIN") or shutil.which("orgd") or "target/release/orgd"
        self.proc = subprocess.Popen(
            [orgd, "serve", "--ephemeral", "--seed", str(HERE / "seed.yaml"),
             "--control-token", CONTROL, "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        ready = json.loads(self.proc.stdout.readline())  # {"ready": true, "url": ..., "caCert": ...}
        self.url, self.ca = ready["url"], ready["caCert"]
        self.context = ssl.create_default_context(cafile=self.ca)

    def control(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}/_orgd{path}", data=data, method=method, headers={
            "Authorization": f"Bearer {CONTROL}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=self.context) as res:
            return json.loads(res.read() or b"null")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.orgd = OrgdStandIn()

    @classmethod
    def tearDownClass(cls):
        cls.orgd.stop()

    def setUp(self):
        self.orgd.control("POST", "/reset")  # data, clock and fault rules back to the seed
        self.client = OrgvueClient(self.orgd.url, TOKEN, ca_file=self.orgd.ca)

    def test_lists_datasets_and_reads_rows(self):
        people = next(d for d in self.client.datasets("ACME") if d["name"] == "People")
        rows = self.client.rows("ACME", people["datasetId"])
        self.assertEqual([r["Full Name"] for r in rows], ["Ana Lima", "Bob Berg", "Chen Okafor"])

    def test_an_expired_token_is_reported_as_40302(self):
        # The seed's token ends on 2030-01-01: move the server's clock past it instead of waiting.
        self.orgd.control("PUT", "/clock", {"now": "2030-06-01T00:00:00Z"})
        with self.assertRaises(ApiError) as caught:
            self.client.datasets("ACME")
        self.assertEqual((caught.exception.status, caught.exception.code), (403, "40302"))

    def test_throttling_is_retried_after_retry_after(self):
        # The next two calls for ACME answer 429 42901 with Retry-After: 1, then the API answers again.
        self.orgd.control("PUT", "/faults", {"rules": [
            {"tenant": "ACME", "error": 42901, "retryAfter": 1, "count": 2}]})
        self.assertEqual(len(self.client.datasets("ACME")), 1)
        self.assertEqual(self.client.retries_done, 2)
        journal = self.orgd.control("GET", "/journal?limit=3")["requests"]
        self.assertEqual([r["status"] for r in journal], [200, 429, 429])

    def test_gives_up_when_throttling_lasts(self):
        self.orgd.control("PUT", "/faults", {"rules": [{"tenant": "ACME", "error": 42901, "retryAfter": 1}]})
        self.client.max_retries = 1
        with self.assertRaises(ApiError) as caught:
            self.client.datasets("ACME")
        self.assertEqual(caught.exception.code, "42901")


if __name__ == "__main__":
    unittest.main(verbosity=2)
