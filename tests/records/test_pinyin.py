import pytest
from hypothesis import given
from hypothesis import strategies as st
from liaison_records.domain.pinyin import MAX_SEARCH_TOKENS, name_keys, query_keys

# Common surname characters, then common given-name characters; none has a special surname reading.
COMMON_CHARACTERS = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高梁郑谢宋唐许韩冯邓"
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红小建国"
)


def finds(name: str, query: str) -> bool:
    """The search contract: every query key is one of the name's tokens (an indexed ``$all``)."""
    keys = query_keys(query)
    tokens = name_keys(name).search_tokens
    return bool(keys) and all(key in tokens for key in keys)


def test_keys_of_a_chinese_name():
    keys = name_keys("陈小明")
    assert keys.full == "chenxiaoming"
    assert keys.initials == "cxm"
    assert keys.syllables == ("chen", "xiao", "ming")


CHARACTER_QUERIES = ["陈", "陈小", "陈小明", "小明"]
PINYIN_QUERIES = ["chen", "chenxiao", "c", "cx", "cxm", "xiaoming", "xm", "Chen Xiao", "CXM", "chen'xiao"]


@pytest.mark.parametrize("query", CHARACTER_QUERIES + PINYIN_QUERIES)
def test_chen_xiaoming_is_found_by(query):
    assert finds("陈小明", query)


@pytest.mark.parametrize("query", ["chenxiaomingg", "wang", "ming", "明", "", "  ", "·"])
def test_chen_xiaoming_is_not_found_by(query):
    assert not finds("陈小明", query)


def test_queries_are_normalised():
    assert query_keys("  Chen Xiao ") == ["chenxiao"]
    assert query_keys("ＣＨＥＮ　ｘｉａｏ") == ["chenxiao"]
    assert query_keys("xi'an") == ["xian"]
    assert query_keys("陈 小") == ["陈小"]
    assert query_keys(" \u3000 ") == []


@pytest.mark.parametrize(
    ("name", "full"),
    [
        ("曾小明", "zengxiaoming"),
        ("单田芳", "shantianfang"),
        ("解缙", "xiejin"),
        ("仇英", "qiuying"),
        ("区志明", "ouzhiming"),
        ("朴树", "piaoshu"),
        ("查良镛", "zhaliangyong"),
        ("覃海", "qinhai"),
        ("盖叫天", "gejiaotian"),
        ("尉迟恭", "yuchigong"),
        ("欧阳修", "ouyangxiu"),
    ],
)
def test_surnames_take_their_surname_reading(name, full):
    assert name_keys(name).full == full


def test_a_compound_surname_leaves_the_rest_as_the_given_name():
    assert finds("欧阳修", "xiu")
    assert finds("欧阳修", "修")
    assert not finds("欧阳修", "阳修")


def test_a_surname_reading_applies_only_to_a_chinese_name():
    assert name_keys("查尔斯·狄更斯").full == "chaersidigengsi"
    assert name_keys("曾 小明").full == "zengxiaoming"


def test_latin_names_are_searched_by_their_words():
    keys = name_keys("Tan Ah Kow")
    assert keys.syllables == ("tan", "ah", "kow")
    assert keys.initials == "tak"
    for query in ("tan", "Tan Ah", "tanahkow", "ah", "kow", "Ah Kow", "tak"):
        assert finds("Tan Ah Kow", query), query
    assert finds("Nguyễn Văn Đức", "nguyen van")
    assert finds("Nguyễn Văn Đức", "duc")


def test_dotted_and_mixed_names_do_not_crash():
    assert finds("阿依古丽·买买提", "买买提")
    assert finds("阿依古丽·买买提", "maimaiti")
    assert finds("李2", "li2")
    assert name_keys("").search_tokens == frozenset()
    assert name_keys("·  ·").search_tokens == frozenset()


def test_a_long_name_is_indexed_on_its_beginning_within_the_bound():
    keys = name_keys(" ".join(["庄装壮"] * 30))
    assert len(keys.search_tokens) <= MAX_SEARCH_TOKENS
    assert finds(" ".join(["庄装壮"] * 30), "zhuangzhuangzhuang")


@given(st.text(max_size=200))
def test_any_text_gives_a_bounded_token_set(name):
    assert len(name_keys(name).search_tokens) <= MAX_SEARCH_TOKENS


@given(st.text(alphabet=st.characters(min_codepoint=0x3400, max_codepoint=0x9FFF) | st.just(" "), max_size=80))
def test_any_characters_give_one_syllable_each_within_the_bound(name):
    keys = name_keys(name)
    assert len(keys.syllables) <= len(name.replace(" ", ""))
    assert len(keys.search_tokens) <= MAX_SEARCH_TOKENS


@given(st.text(alphabet=COMMON_CHARACTERS, min_size=2, max_size=4), st.data())
def test_common_names_are_found_by_every_prefix_and_by_spaced_mixed_case_pinyin(name, data):
    keys = name_keys(name)
    assert len(keys.syllables) == len(name)
    for spelling in (keys.full, keys.initials, name):
        for end in range(1, len(spelling) + 1):
            assert spelling[:end] in keys.search_tokens
    spaced = ""
    for syllable in keys.syllables:
        upper = data.draw(st.lists(st.booleans(), min_size=len(syllable), max_size=len(syllable)))
        spaced += "".join(c.upper() if up else c for c, up in zip(syllable, upper, strict=True))
        spaced += " " * data.draw(st.integers(0, 2))
    assert finds(name, spaced)
