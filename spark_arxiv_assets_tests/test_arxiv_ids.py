import pytest

from spark_arxiv_assets.core.arxiv_ids import InvalidArxivId, parse_arxiv_id, safe_name


def test_new_style_with_version():
    aid = parse_arxiv_id("arXiv:2501.10120v2")
    assert (aid.base, aid.version, aid.yymm) == ("2501.10120", 2, "2501")
    assert aid.pdf_url_path() == "pdf/2501.10120v2"


def test_old_style_id_with_slash():
    aid = parse_arxiv_id("hep-th/9901001")
    assert (aid.base, aid.version, aid.yymm) == ("hep-th/9901001", None, "9901")
    assert aid.safe_name == "hep-th_9901001"
    assert aid.pdf_url_path() == "pdf/hep-th/9901001"


@pytest.mark.parametrize("bad", ["", "hello", "2501.1", "../../etc/passwd", "hep-th/99010"])
def test_rejects_non_ids(bad):
    with pytest.raises(InvalidArxivId):
        parse_arxiv_id(bad)


def test_safe_name_never_contains_path_separators():
    assert "/" not in safe_name("../../etc/passwd") and ".." != safe_name("..")
