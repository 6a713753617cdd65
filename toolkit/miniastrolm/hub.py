"""Uploads to the Hugging Face Hub: one folder -> one repo revision, the same for datasets and models.

huggingface_hub reads HF_ENDPOINT (a private Hub or mirror) and refuses to go online under HF_HUB_OFFLINE=1.
The token comes only from the caller (read from the environment), and is never written anywhere.
"""

from __future__ import annotations

from pathlib import Path

from . import __version__


class RevisionExists(RuntimeError):
    """The target revision already exists and the caller did not allow overwriting it."""


def push_folder(folder: Path, repo_id: str, *, repo_type: str, private: bool, revision: str | None,
                token: str | None, overwrite: bool = True, ignore_patterns: list[str] | None = None,
                space_sdk: str | None = None) -> str:
    """Create the repo (and the branch) if needed, upload the folder in one commit, return the commit URL.
    With `overwrite=False`, refuse when the revision (a branch, or `main` of an existing repo) is already there."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    api = HfApi(token=token)
    branch = revision or "main"
    if not overwrite:
        try:
            refs = api.list_repo_refs(repo_id, repo_type=repo_type)
        except RepositoryNotFoundError:
            refs = None
        if refs is not None and branch in {ref.name for ref in refs.branches}:
            raise RevisionExists(f"{repo_id}@{branch} already exists; pass a new revision, or allow overwriting it "
                                 f"(--overwrite_revision true)")
    api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True, space_sdk=space_sdk)
    if branch != "main":
        api.create_branch(repo_id, branch=branch, repo_type=repo_type, exist_ok=True)
    commit = api.upload_folder(repo_id=repo_id, folder_path=folder, repo_type=repo_type, revision=revision,
                               commit_message=f"MiniAstroLM {__version__} upload", ignore_patterns=ignore_patterns)
    return commit.commit_url
