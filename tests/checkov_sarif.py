"""checkov's SARIF read into (check id, file, kind, namespace, name) tuples (pure; tests only).

checkov 3.3.30 writes one SARIF result per failed check and object, with neither
logicalLocations nor the object in its message (a rule's help text names only the first
object that failed it, as ``Resource: Kind.namespace.name``, with ``default`` for
cluster-scoped objects too). What identifies the object is the result's region: the lines of
its YAML document, whose text checkov copies into ``region.snippet.text``. So the document is
read back: its kind, ``metadata.namespace`` (None when the manifest names none) and
``metadata.name``. Without a snippet, the region's lines are taken from the file's text."""

from __future__ import annotations

import yaml

try:
    from yaml import CSafeLoader as Loader
except ImportError:  # pragma: no cover - libyaml is in .venv
    from yaml import SafeLoader as Loader

# Kinds without a namespace; every other kind left without one lands in "default".
CLUSTER_SCOPED = frozenset(
    {
        "ClusterRole",
        "ClusterRoleBinding",
        "Namespace",
        "Node",
        "PersistentVolume",
        "StorageClass",
        "CustomResourceDefinition",
        "PriorityClass",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "PodSecurityPolicy",
        "CertificateSigningRequest",
    }
)


def document_object(text):
    """(kind, namespace, name) of the one YAML document in text ('---' lines ignored)."""
    docs = [d for d in yaml.load_all(text, Loader=Loader) if d]
    if len(docs) != 1:
        raise ValueError(f"expected one YAML document in a checkov region, found {len(docs)}")
    doc = docs[0]
    metadata = doc.get("metadata") or {}
    return doc.get("kind"), metadata.get("namespace"), metadata.get("name")


def relative(uri, root=None):
    """A SARIF uri as a path relative to root (checkov writes what it was given, or '/x')."""
    if root and uri.startswith(str(root).rstrip("/") + "/"):
        uri = uri[len(str(root).rstrip("/")) + 1 :]
    return uri.removeprefix("file://").removeprefix("./").lstrip("/")


def findings(sarif, texts=None, root=None):
    """Every result of every run as (check id, file, kind, namespace, name), sorted.

    texts: {file: its text}, needed only for results without a snippet."""
    out = []
    for run in sarif.get("runs", []):
        for result in run.get("results", []):
            location = result["locations"][0]["physicalLocation"]
            file = relative(location["artifactLocation"]["uri"], root)
            region = location.get("region", {})
            text = (region.get("snippet") or {}).get("text")
            if text is None:
                lines = (texts or {})[file].splitlines()
                text = "\n".join(lines[region["startLine"] - 1 : region["endLine"]])
            out.append((result["ruleId"], file, *document_object(text)))
    return sorted(out, key=lambda t: tuple("" if v is None else v for v in t))


def object_key(kind, namespace, name):
    """The object as the API server knows it: namespace "default" when the manifest named
    none, None for cluster-scoped kinds whatever the manifest said."""
    if kind in CLUSTER_SCOPED:
        return kind, None, name
    return kind, namespace or "default", name
