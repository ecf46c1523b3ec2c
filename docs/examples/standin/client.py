"""A small client of the Orgvue-style dataset API: the code under test in the guide's example.

It lists a tenant's datasets and exports one as JSON objects. It retries throttled calls (429) after the
server's Retry-After, and turns every other error into an ApiError carrying the documented code.
Standard library only.
"""

import json
import ssl
import time
import urllib.error
import urllib.request


class ApiError(Exception):
    """An error answer: HTTP status plus the first error's code and name."""

    def __init__(self, status, code, name, message):
        super().__init__(f"{status} {code} {name}: {message}")
        self.status, self.code, self.name = status, code, name


class OrgvueClient:
    def __init__(self, base_url, token, ca_file=None, max_retries=3):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.max_retries = max_retries
        self.context = ssl.create_default_context(cafile=ca_file) if ca_file else None
        self.retries_done = 0

    def _get(self, path):
        for attempt in range(self.max_retries + 1):
            req = urllib.request.Request(self.base_url + path, headers={"Authorization": f"Bearer {self.token}"})
            try:
                with urllib.request.urlopen(req, context=self.context, timeout=30) as res:
                    return json.load(res)
            except urllib.error.HTTPError as e:
                if e.code == 429 and attempt < self.max_retries:
                    self.retries_done += 1
                    time.sleep(float(e.headers.get("Retry-After", "1")))
                    continue
                body = json.load(e)
                first = body["errors"][0]
                raise ApiError(e.code, first["code"], first["name"], first["message"]) from None
        raise AssertionError("unreachable")

    def datasets(self, tenant):
        """The tenant's datasets: [{datasetId, name, type, ...}]."""
        return self._get(f"/api/v1/{tenant}/datasets")

    def rows(self, tenant, dataset_id):
        """Every item of a dataset as a list of {property: value} objects."""
        return self._get(f"/api/v1/{tenant}/datasets/{dataset_id}/export/jsonObjects")
