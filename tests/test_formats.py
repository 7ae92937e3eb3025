"""Every loader on small files written here in the official release formats (never the real data)."""

import gzip
import json

import numpy as np
import pytest

from glta.config import DataConfig
from glta.data import load_dataset
from glta.data.export import export_recbole
from glta.data.formats import FORMATS, detect_format
from glta.errors import DataFormatError, GLTAError


def _pairs(inter):
    return sorted((inter.user_ids[u], inter.item_ids[i]) for u, i in zip(inter.users, inter.items))


def test_movielens_1m_ratings_dat(tmp_path):
    (tmp_path / "ratings.dat").write_text("1::10::5::978300760\n1::20::3::978300761\n2::10::4::978300762\n"
                                          "2::10::4::978300999\n")
    # the official movies.dat is Latin-1
    (tmp_path / "movies.dat").write_bytes("10::Café (1995)::Comedy|Drama\n20::Heat (1995)::Action\n"
                                          .encode("latin-1"))
    assert detect_format(tmp_path) == "movielens-1m"
    inter = FORMATS["movielens-1m"](tmp_path)
    assert _pairs(inter) == [("1", "10"), ("1", "20"), ("2", "10")]  # the repeated pair is kept once
    assert inter.item_text["title"] == ["Café (1995)", "Heat (1995)"]
    assert inter.item_text["genres"][0] == "Comedy, Drama"
    assert inter.order is not None
    assert _pairs(FORMATS["movielens-1m"](tmp_path, ratings=True).rated_at_least(4)) == [("1", "10"), ("2", "10")]


def test_movielens_1m_lightgcn_copy_maps_ids_back(tmp_path):
    (tmp_path / "train.txt").write_text("0 9 19\n1 9\n")
    (tmp_path / "test.txt").write_text("0 29\n")
    (tmp_path / "movies.dat").write_text("10::A (1990)::Drama\n20::B (1991)::Comedy\n30::C (1992)::War\n")
    inter = FORMATS["movielens-1m"](tmp_path)
    assert _pairs(inter) == [("1", "10"), ("1", "20"), ("1", "30"), ("2", "10")]
    test_items = {inter.item_ids[i] for i, s in zip(inter.items, inter.given_split) if s == 2}
    assert test_items == {"30"}
    assert inter.item_text["title"] == ["A (1990)", "B (1991)", "C (1992)"]
    with pytest.raises(DataFormatError, match="the LightGCN copy .* keeps no ratings"):  # data.min_rating
        FORMATS["movielens-1m"](tmp_path, ratings=True)


def test_movielens_malformed_line_names_file_and_line(tmp_path):
    (tmp_path / "ratings.dat").write_text("1::10::5::978300760\n1::oops\n")
    (tmp_path / "movies.dat").write_text("10::A::Drama\n")
    with pytest.raises(DataFormatError, match=r"ratings.dat, line 2"):
        FORMATS["movielens-1m"](tmp_path)


def test_movielens_100k(tmp_path):
    (tmp_path / "u.data").write_text("1\t5\t3\t881250949\n2\t5\t1\t881250950\n2\t7\t4\t881250951\n")
    (tmp_path / "u.genre").write_text("unknown|0\nAction|1\nComedy|2\n\n")
    (tmp_path / "u.item").write_bytes("5|Café|01-Jan-1995||http://x|0|1|1\n7|Other|01-Jan-1995||http://y|1|0|0\n"
                                      .encode("latin-1"))
    inter = FORMATS["movielens-100k"](tmp_path)
    assert inter.n_users == 2 and inter.n_items == 2
    assert inter.item_text["genres"] == ["Action, Comedy", "unknown"]
    assert inter.item_text["title"][0] == "Café"
    rated = FORMATS["movielens-100k"](tmp_path, ratings=True).rated_at_least(3)  # data.min_rating=3
    assert _pairs(rated) == [("1", "5"), ("2", "7")] and list(rated.ratings) == [3, 4]
    assert rated.item_text["title"] == ["Café", "Other"] and list(rated.order) == [881250949, 881250951]
    assert _pairs(FORMATS["movielens-100k"](tmp_path, ratings=True).rated_at_least(4)) == [("2", "7")]
    assert rated.item_text["genres"] == ["Action, Comedy", "unknown"]


def test_amazon_2018_gz(tmp_path):
    reviews = [{"overall": 5.0, "reviewerID": "A1", "asin": "B01", "unixReviewTime": 10},
               {"overall": 4.0, "reviewerID": "A1", "asin": "B02", "unixReviewTime": 20},
               {"overall": 3.0, "reviewerID": "A2", "asin": "B01", "unixReviewTime": 30}]
    with gzip.open(tmp_path / "Grocery_and_Gourmet_Food_5.json.gz", "wt") as handle:
        handle.write("\n".join(json.dumps(r) for r in reviews) + "\n")
    meta = [{"asin": "B01", "title": "Tea", "description": ["Green", "tea"], "category": ["Grocery", "Tea"],
             "brand": "X"}, {"asin": "B02", "title": "Coffee", "description": [], "brand": ""},
            {"asin": "B99", "title": "unused"}]
    with gzip.open(tmp_path / "meta_Grocery_and_Gourmet_Food.json.gz", "wt") as handle:
        handle.write("\n".join(json.dumps(m) for m in meta) + "\n")
    assert detect_format(tmp_path) == "amazon"
    inter = FORMATS["amazon"](tmp_path)
    assert _pairs(inter) == [("A1", "B01"), ("A1", "B02"), ("A2", "B01")]
    assert inter.item_text["title"] == ["Tea", "Coffee"]
    assert inter.item_text["description"][0] == "Green tea"
    assert inter.item_text["categories"][0] == "Grocery Tea"


def test_amazon_2023_reads_users_products_and_milliseconds(tmp_path):
    """Amazon Reviews 2023 (a made-up fixture in its layout): ``user_id`` and ``parent_asin`` (two variants of one
    product are one item), times in milliseconds, the metadata's ``store`` as the brand."""
    reviews = [{"rating": 5.0, "user_id": "U1", "asin": "V1", "parent_asin": "P1", "timestamp": 1_600_000_000_000},
               {"rating": 4.0, "user_id": "U1", "asin": "V2", "parent_asin": "P2", "timestamp": 1_500_000_000_000},
               {"rating": 3.0, "user_id": "U2", "asin": "V3", "parent_asin": "P1", "timestamp": 1_550_000_000_000}]
    with gzip.open(tmp_path / "All_Beauty.jsonl.gz", "wt") as handle:
        handle.write("\n" + "\n".join(json.dumps(r) for r in reviews) + "\n")  # a blank first line, too
    meta = [{"parent_asin": "P1", "title": "Soap", "description": ["Mild", "soap"], "store": "Y",
             "categories": ["Beauty", "Bath"]}, {"parent_asin": "P2", "title": "Brush", "description": []}]
    (tmp_path / "meta_All_Beauty.jsonl").write_text("\n".join(json.dumps(m) for m in meta) + "\n")
    assert detect_format(tmp_path) == "amazon"
    inter = FORMATS["amazon"](tmp_path)
    assert _pairs(inter) == [("U1", "P1"), ("U1", "P2"), ("U2", "P1")]
    assert list(inter.order) == [1_600_000_000, 1_500_000_000, 1_550_000_000]
    assert inter.item_text["title"] == ["Soap", "Brush"]
    assert inter.item_text["brand"] == ["Y", ""] and inter.item_text["categories"][0] == "Beauty Bath"


def test_amazon_2014_python_literal_meta(tmp_path):
    (tmp_path / "reviews_Grocery_5.json").write_text(
        json.dumps({"reviewerID": "A1", "asin": "B01", "unixReviewTime": 1}) + "\n")
    (tmp_path / "meta_Grocery.json").write_text("{'asin': 'B01', 'title': 'Tea', 'categories': [['Grocery']]}\n")
    inter = FORMATS["amazon"](tmp_path)
    assert inter.item_text["title"] == ["Tea"]
    assert inter.item_text["categories"] == ["Grocery"]


def test_amazon_missing_field(tmp_path):
    (tmp_path / "x_5.json").write_text(json.dumps({"asin": "B01"}) + "\n")
    (tmp_path / "meta_x.json").write_text("")
    with pytest.raises(DataFormatError, match="reviewerID"):
        FORMATS["amazon"](tmp_path)


def test_lcrec(tmp_path):
    (tmp_path / "Toy.inter.json").write_text(json.dumps({"0": [0, 1, 2], "1": [2, 0]}))
    (tmp_path / "Toy.item.json").write_text(json.dumps({str(i): {"title": f"t{i}", "description": "."}
                                                        for i in range(3)}))
    inter = FORMATS["lcrec"](tmp_path)
    assert inter.n_users == 2 and inter.n_items == 3
    assert inter.item_text["description"] == ["", "", ""]  # "." means an empty description
    first_user = inter.order[inter.users == 0]
    assert list(first_user) == [0, 1, 2]


def test_goodreads_ucsd(tmp_path):
    rows = [{"user_id": "u1", "book_id": "7", "is_read": True, "rating": 5,
             "date_added": "Mon Aug 08 07:33:12 -0700 2016"},
            {"user_id": "u2", "book_id": "8", "is_read": False, "rating": 0, "date_added": ""}]
    with gzip.open(tmp_path / "goodreads_interactions_history_biography.json.gz", "wt") as handle:
        handle.write("\n".join(json.dumps(r) for r in rows))
    with gzip.open(tmp_path / "goodreads_books_history_biography.json.gz", "wt") as handle:
        handle.write(json.dumps({"book_id": "7", "title": "SPQR", "description": "Rome."}) + "\n")
    inter = FORMATS["goodreads"](tmp_path)
    assert inter.n_users == 2 and inter.item_text["title"] == ["SPQR", ""]
    rated = FORMATS["goodreads"](tmp_path, ratings=True).rated_at_least(1)  # 0: shelved, not rated
    assert _pairs(rated) == [("u1", "7")] and rated.item_text["title"] == ["SPQR"]


def test_once_goodreads(tmp_path):
    with gzip.open(tmp_path / "user_history.tsv.gz", "wt") as handle:
        handle.write("user_id\tbook_id\tposition\nab\t5\t0\nab\t6\t1\ncd\t5\t0\n")
    (tmp_path / "book.csv").write_text('bid\ttitle\n5\tA "quoted" title\n6\tB\n')
    (tmp_path / "book-desc.csv").write_text('bid,desc\n5,"One, two"\n6,Three\n')
    inter = FORMATS["once-goodreads"](tmp_path)
    assert inter.item_text["title"] == ['A "quoted" title', "B"]
    assert inter.item_text["description"] == ["One, two", "Three"]


def test_generic_csv_with_item_text(tmp_path):
    (tmp_path / "interactions.csv").write_text("user,item,rating,timestamp\nu1,i1,5,100\nu1,i2,4,200\n"
                                               "u2,i1,3,2020-01-01\n")
    (tmp_path / "items.csv").write_text("item,title,description\ni1,First,desc one\ni2,Second,desc two\n")
    inter = FORMATS["csv"](tmp_path)
    assert inter.item_text["title"] == ["First", "Second"]
    assert _pairs(inter) == [("u1", "i1"), ("u1", "i2"), ("u2", "i1")]


@pytest.mark.parametrize("header", ["name", "Product_Name", "Title"])
def test_an_items_csv_name_column_is_the_title(tmp_path, header):
    """A shop's items.csv names its items under other headers (name, product_name, a capital Title): that column is
    the title, which prompts name first and `glta recommend` shows (its rows showed no name at all); the other
    columns keep theirs, and a real title column wins over a name."""
    (tmp_path / "interactions.csv").write_text("user,item\nu1,i1\nu1,i2\nu2,i1\n")
    (tmp_path / "items.csv").write_text(f"item,category,{header}\ni1,Tools,Hammer\ni2,Garden,Rake\n")
    inter = FORMATS["csv"](tmp_path)
    assert inter.item_text == {"category": ["Tools", "Garden"], "title": ["Hammer", "Rake"]}
    (tmp_path / "items.csv").write_text("item,name,title\ni1,h-01,Hammer\ni2,r-02,Rake\n")
    assert FORMATS["csv"](tmp_path).item_text == {"name": ["h-01", "r-02"], "title": ["Hammer", "Rake"]}


def test_movielens_csv_releases_read_ratings_and_titles_as_ml_1m_does(tmp_path):
    """ML-20M/25M/32M and ml-latest ship CSVs (a made-up fixture in their layout): detected beside the tags and links
    files they also ship, every rating a positive, ordered by time, titles and genres as ML-1M's text fields."""
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,10,4.0,300\n1,20,2.5,100\n"
                                          "2,10,5.0,200\n")
    (tmp_path / "movies.csv").write_text('movieId,title,genres\n10,"Film, The (1999)",Comedy|Drama\n'
                                         "20,Other (2001),(no genres listed)\n")
    (tmp_path / "tags.csv").write_text("userId,movieId,tag,timestamp\n1,10,funny,300\n")
    (tmp_path / "links.csv").write_text("movieId,imdbId,tmdbId\n10,1,2\n")
    assert detect_format(tmp_path) == detect_format(tmp_path / "ratings.csv") == "movielens"
    inter = FORMATS["movielens"](tmp_path)
    assert _pairs(inter) == [("1", "10"), ("1", "20"), ("2", "10")]
    assert inter.item_text["title"] == ["Film, The (1999)", "Other (2001)"]
    assert inter.item_text["genres"] == ["Comedy, Drama", "(no genres listed)"]
    assert list(inter.order) == [300, 100, 200]
    rated = FORMATS["movielens"](tmp_path, ratings=True).rated_at_least(3.5)
    assert _pairs(rated) == [("1", "10"), ("2", "10")] and list(rated.order) == [300, 200]
    assert rated.item_text["genres"] == ["Comedy, Drama"]
    (tmp_path / "ratings.csv").write_text("userId,itemId\n1,10\n")
    with pytest.raises(DataFormatError, match=r"no movieId column among \['userId', 'itemId'\]"):
        FORMATS["movielens"](tmp_path)


def test_a_csvs_delimiter_is_told_from_its_header_and_quoted_fields_keep_theirs(tmp_path):
    """The delimiter is read off the header so that pandas' C parser reads the file (benchmarks/data_loading.py: the
    sniffing Python parser took 2.1x as long on 2M rows); a semicolon file, and a comma file whose quoted titles hold
    semicolons and tabs."""
    (tmp_path / "interactions.csv").write_text("user;item;rating\nu1;i1;5\nu2;i2;4\n")
    (tmp_path / "items.csv").write_text('item,title\ni1,"One; or\tanother, first"\ni2,Two\n')
    inter = FORMATS["csv"](tmp_path)
    assert _pairs(inter) == [("u1", "i1"), ("u2", "i2")]
    assert inter.item_text["title"] == ["One; or\tanother, first", "Two"]


def test_a_folder_with_one_table_beside_items_csv_is_read_as_csv_and_two_tables_ask_which(tmp_path):
    """``ratings.csv`` + ``items.csv`` is what a user exports; before, detection asked for --format and then for the
    file to be renamed."""
    (tmp_path / "ratings.csv").write_text("user_id,item_id\nu1,i1\nu2,i2\nu2,i1\n")
    (tmp_path / "items.csv").write_text("item_id,title\ni1,First\ni2,Second\n")
    assert detect_format(tmp_path) == "csv"
    inter = FORMATS["csv"](tmp_path)
    assert _pairs(inter) == [("u1", "i1"), ("u2", "i1"), ("u2", "i2")]
    assert inter.item_text["title"] == ["First", "Second"]
    (tmp_path / "more.tsv").write_text("user\titem\nu3\ti1\n")  # which is the interactions now is not clear
    assert detect_format(tmp_path) is None
    with pytest.raises(GLTAError, match="point --data-path at the .csv/.tsv file"):
        load_dataset(DataConfig(path=str(tmp_path)))
    with pytest.raises(DataFormatError, match="no interactions file found.*\n  fix: name it interactions.csv"):
        FORMATS["csv"](tmp_path)


def test_commands_in_errors_name_the_data_set_as_it_was_given(tmp_path, synthetic, monkeypatch):
    """A data set read from a path is named by its path in the commands errors suggest; a built-in one by name."""
    from glta.config import DataConfig
    from glta.data import load_dataset

    monkeypatch.setenv("GLTA_CACHE_DIR", str(tmp_path / "cache"))
    rows = "".join(f"u{u},i{(u * 7 + n) % 13},{n}\n" for u in range(12) for n in range(6))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "interactions.csv").write_text("user,item,timestamp\n" + rows)
    mine = load_dataset(DataConfig(path=str(tmp_path / "mine"), format="csv"))
    assert mine.cli_source() == f"--data-path {tmp_path / 'mine'} --format csv"
    assert synthetic.cli_source() == "--dataset synthetic" and synthetic.cli_source("") == "synthetic"


def test_a_csvs_columns_can_be_named_in_the_settings(tmp_path, monkeypatch):
    """A shop's export whose header says customer/product/when: data.user_column etc. name them (before, the file had
    to be rewritten with a known header); items.csv is keyed by the same item column; a wrong name, one column for two
    roles, and the settings on a format whose columns are fixed are one-line errors."""
    monkeypatch.setenv("GLTA_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "shop").mkdir()
    rows = "".join(f"c{u},p{(u * 5 + n) % 11},{u * 10 + n}\n" for u in range(8) for n in range(6))
    (tmp_path / "shop" / "interactions.csv").write_text("customer,product,when\n" + rows)
    (tmp_path / "shop" / "items.csv").write_text("product,title\n" + "".join(f"p{i},Thing {i}\n" for i in range(11)))
    with pytest.raises(DataFormatError, match="no user column.*\n  fix: .*or name yours with data.user_column=NAME"):
        FORMATS["csv"](tmp_path / "shop")
    inter = FORMATS["csv"](tmp_path / "shop", user_column="Customer", item_column="product", time_column="when")
    assert _pairs(inter)[:2] == [("c0", "p0"), ("c0", "p1")] and len(_pairs(inter)) == 48
    assert inter.item_text["title"][list(inter.item_ids).index("p3")] == "Thing 3"
    assert list(inter.order[:3]) == [0, 1, 2]
    config = DataConfig(path=str(tmp_path / "shop"), user_column="customer", item_column="product",
                        time_column="when", split="temporal")
    dataset = load_dataset(config)
    assert dataset.n_users == 8 and dataset.source["split"] == "temporal"
    assert dataset.cli_source() == (f"--data-path {tmp_path / 'shop'} --format csv data.split=temporal "
                                    "data.user_column=customer data.item_column=product data.time_column=when")
    with pytest.raises(DataFormatError, match="data.user_column=client, but no column of that name"):
        FORMATS["csv"](tmp_path / "shop", user_column="client", item_column="product")
    with pytest.raises(DataFormatError, match="one column named for two roles"):
        FORMATS["csv"](tmp_path / "shop", user_column="customer", item_column="customer")
    with pytest.raises(DataFormatError, match="no item column among \\['customer', 'product', 'when'\\]"):
        FORMATS["csv"](tmp_path / "shop", user_column="customer")  # what is left for the item: not 'customer'
    (tmp_path / "ml").mkdir()
    (tmp_path / "ml" / "u.data").write_text("1\t2\t5\t100\n")
    with pytest.raises(GLTAError, match="data.user_column is read by format csv only.*'movielens-100k'"):
        load_dataset(DataConfig(path=str(tmp_path / "ml"), user_column="customer"))


def test_min_rating_keeps_the_interactions_rated_that_or_more_in_every_format_with_ratings(tmp_path, monkeypatch):
    """data.min_rating (explicit feedback as positives from a threshold, e.g. 4 of 5 stars): the rows below it, or
    without a rating, go before the split; users and items left with nothing go too. Formats without ratings, and
    a rating that is no number, are one-line errors."""
    monkeypatch.setenv("GLTA_CACHE_DIR", str(tmp_path / "cache"))
    shop = tmp_path / "shop"
    shop.mkdir()
    rows = "".join(f"c{u},p{(u + n) % 7},{1 + (u + n) % 5},{n}\n" for u in range(9) for n in range(6))
    (shop / "interactions.csv").write_text("customer,product,stars,when\n" + rows)
    (shop / "items.csv").write_text("product,title\n" + "".join(f"p{i},Thing {i}\n" for i in range(7)))
    columns = {"user_column": "customer", "item_column": "product", "time_column": "when"}
    every = load_dataset(DataConfig(path=str(shop), **columns))
    high = load_dataset(DataConfig(path=str(shop), **columns, min_rating=4))
    assert every.n_interactions == 54 and high.n_interactions == 21
    expected = sorted((f"c{u}", f"p{(u + n) % 7}") for u in range(9) for n in range(6) if 1 + (u + n) % 5 >= 4)
    assert len(expected) == 21
    got = sorted((high.user_ids[u], high.item_ids[i]) for part in (high.train, high.valid, high.test)
                 for u, i in zip(*part.nonzero()))
    assert got == expected
    assert dict(zip(high.item_ids, high.item_text["title"])) == {f"p{i}": f"Thing {i}" for i in range(7)
                                                                 if f"p{i}" in set(high.item_ids)}
    assert "data.min_rating=4" in high.cli_source()
    (shop / "interactions.csv").write_text("customer,product,stars\nc1,p1,5\nc1,p2,great\n")
    with pytest.raises(DataFormatError, match="interactions.csv, line 3: rating 'great' is not a number"):
        load_dataset(DataConfig(path=str(shop), user_column="customer", item_column="product", min_rating=4))
    (shop / "interactions.csv").write_text("customer,product\nc1,p1\n")
    with pytest.raises(DataFormatError, match=r"no rating column among \['customer', 'product'\]\n.*rating_column="):
        load_dataset(DataConfig(path=str(shop), user_column="customer", item_column="product", min_rating=4))
    reviews = [{"overall": 5.0, "reviewerID": "A1", "asin": "B01", "unixReviewTime": 10},
               {"overall": 2.0, "reviewerID": "A1", "asin": "B02", "unixReviewTime": 20},
               {"reviewerID": "A2", "asin": "B01", "unixReviewTime": 30}]  # no rating: dropped
    (tmp_path / "amazon").mkdir()
    (tmp_path / "amazon" / "Tea_5.json").write_text("\n".join(json.dumps(r) for r in reviews) + "\n")
    (tmp_path / "amazon" / "meta_Tea.json").write_text('{"asin": "B01", "title": "Tea"}\n')
    assert _pairs(FORMATS["amazon"](tmp_path / "amazon", ratings=True).rated_at_least(3)) == [("A1", "B01")]
    (tmp_path / "x.inter").write_text("user_id:token\titem_id:token\trating:float\n1\t2\t5\n1\t3\t1\n")
    assert _pairs(FORMATS["recbole"](tmp_path / "x.inter", ratings=True).rated_at_least(3)) == [("1", "2")]
    (tmp_path / "lc").mkdir()
    (tmp_path / "lc" / "Shop.inter.json").write_text('{"u1": ["i1", "i2"]}')
    with pytest.raises(GLTAError, match=r"\(format 'lcrec'\) carries no ratings"):
        load_dataset(DataConfig(path=str(tmp_path / "lc"), min_rating=4))
    with pytest.raises(GLTAError, match="data.min_rating=9 leaves nothing"):
        load_dataset(DataConfig(path=str(tmp_path / "x.inter"), min_rating=9))


def test_gzipped_tables_the_files_beside_a_table_and_a_copy_elsewhere(tmp_path, monkeypatch):
    """interactions.csv.gz (+ items.csv.gz) is read as csv without --format, named 'interactions' as its .csv would
    be; the items.csv beside an interactions file --data-path points at is part of the cache key (before, editing it
    left the cached text in place), and the same files copied to another folder go by that folder's name (before,
    the cached entry kept the first folder's)."""
    import gzip

    monkeypatch.setenv("GLTA_CACHE_DIR", str(tmp_path / "cache"))
    rows = "user,item\n" + "".join(f"u{u},i{(u * 3 + n) % 8}\n" for u in range(9) for n in range(5))
    (tmp_path / "gz").mkdir()
    with gzip.open(tmp_path / "gz" / "interactions.csv.gz", "wt") as handle:
        handle.write(rows)
    with gzip.open(tmp_path / "gz" / "items.csv.gz", "wt") as handle:
        handle.write("item,title\n" + "".join(f"i{i},Book {i}\n" for i in range(8)))
    assert detect_format(tmp_path / "gz") == detect_format(tmp_path / "gz" / "interactions.csv.gz") == "csv"
    packed = load_dataset(DataConfig(path=str(tmp_path / "gz" / "interactions.csv.gz")))
    assert packed.name == "interactions" and packed.n_interactions == 45
    assert dict(zip(packed.item_ids, packed.item_text["title"]))["i3"] == "Book 3"
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "interactions.csv").write_text(rows)
    (tmp_path / "plain" / "items.csv").write_text("item,title\ni1,Old\n")
    table = str(tmp_path / "plain" / "interactions.csv")
    assert load_dataset(DataConfig(path=table)).item_text["title"][1] == "Old"
    (tmp_path / "plain" / "items.csv").write_text("item,title\ni1,New\n")
    assert load_dataset(DataConfig(path=table)).item_text["title"][1] == "New"
    (tmp_path / "copy").mkdir()
    for name in ("interactions.csv", "items.csv"):
        (tmp_path / "copy" / name).write_text((tmp_path / "plain" / name).read_text())
    first, again = (load_dataset(DataConfig(path=str(tmp_path / folder))) for folder in ("plain", "copy"))
    assert (first.name, again.name) == ("plain", "copy") and first.fingerprint() == again.fingerprint()
    assert again.source["path"] == str(tmp_path / "copy")
    from glta.caches import entries

    # filed under the name it goes by (before: 'synthetic', the default name), so `glta cache clear data --dataset`
    assert {"plain", "copy", "interactions"} <= {entry.dataset for entry in entries("data")}


def test_k_core_drops_users_and_items_below_k_until_none_is_left(tmp_path, monkeypatch):
    """data.k_core=2: an item seen once goes, which leaves its user with one interaction, who goes in turn (the
    repeat a single pass misses); the rest keep their ids, text and order, and a k that leaves nothing is an error."""
    monkeypatch.setenv("GLTA_CACHE_DIR", str(tmp_path / "cache"))
    rows = ["a,x,1", "a,y,2", "b,x,3", "b,y,4", "c,x,5", "c,z,6", "d,y,7"]  # z once: c keeps x only, then c goes
    (tmp_path / "interactions.csv").write_text("user,item,timestamp\n" + "\n".join(rows) + "\n")
    (tmp_path / "items.csv").write_text("item,title\nx,X\ny,Y\nz,Z\n")
    inter = FORMATS["csv"](tmp_path)
    core = inter.k_core(2)
    assert _pairs(core) == [("a", "x"), ("a", "y"), ("b", "x"), ("b", "y")]  # d (one item) and c (after z) gone
    assert list(core.user_ids) == ["a", "b"] and core.item_text["title"] == ["X", "Y"]
    assert list(core.order) == [1, 2, 3, 4]
    assert _pairs(inter.k_core(1)) == _pairs(inter)
    with pytest.raises(ValueError, match="no user and item keep 3"):
        inter.k_core(3)
    dataset = load_dataset(DataConfig(path=str(tmp_path), k_core=2, min_user_interactions=1))
    assert dataset.n_users == 2 and dataset.n_items == 2 and "data.k_core=2" in dataset.cli_source()
    with pytest.raises(GLTAError, match="data.k_core=3 leaves nothing"):
        load_dataset(DataConfig(path=str(tmp_path), k_core=3))
    synthetic = load_dataset(DataConfig(name="synthetic", k_core=20))  # generated data sets too
    per_item = np.bincount((synthetic.train + synthetic.valid + synthetic.test).tocoo().col)
    assert synthetic.n_users < 600 and synthetic.n_items < 400 and per_item.min() >= 20


def test_a_table_without_a_header_is_told_so(tmp_path):
    """A CSV whose first line is data was refused for having "no user column among ['196', '242', '3', ...]",
    whose fix (name the column user or data.user_column) did not say the header was missing."""
    (tmp_path / "interactions.csv").write_text("196,242,3,881250949\n186,302,3,891717742\n")
    with pytest.raises(DataFormatError, match=r"first line \['196', '242', '3', '881250949'\] looks like data, "
                                              r"not a header\n  fix: add a header line"):
        FORMATS["csv"](tmp_path)


def test_generic_tsv_file_and_bad_column(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text("userId\tmovieId\n1\t2\n")
    assert _pairs(FORMATS["csv"](path)) == [("1", "2")]
    bad = tmp_path / "bad.csv"
    bad.write_text("who,what\n1,2\n")
    with pytest.raises(DataFormatError, match="no user column"):
        FORMATS["csv"](bad)


def test_recbole_round_trip(tmp_path, synthetic):
    export_recbole(synthetic, tmp_path / "syn", "syn")
    inter = FORMATS["recbole"](tmp_path / "syn")
    assert len(inter.users) == synthetic.n_interactions
    # the split the files ship is the default: the same users, items and split, to the interaction (before, a
    # --data-path data set was split at random again, with the same sizes per user: only its fingerprint told)
    reloaded = load_dataset(DataConfig(name="syn", path=str(tmp_path / "syn"), format="recbole"))
    assert reloaded.fingerprint() == synthetic.fingerprint() and reloaded.source["split"] == "given"
    assert reloaded.source["path"] == str(tmp_path / "syn")
    again = load_dataset(DataConfig(name="syn", path=str(tmp_path / "syn"), split="random"))  # asked for
    assert again.fingerprint() != synthetic.fingerprint() and again.source["split"] == "random"
    assert again.test.nnz == synthetic.test.nnz  # the same sizes: what hid it
    (tmp_path / "syn" / "syn.valid.inter").rename(tmp_path / "syn.valid.inter.away")
    with pytest.raises(GLTAError, match="RecBole"):  # benchmark files only when all three are there
        load_dataset(DataConfig(name="syn2", path=str(tmp_path / "syn")))
    assert set(reloaded.item_text) == set(synthetic.item_text)
    title = dict(zip(synthetic.item_ids, synthetic.item_text["title"]))
    assert all(title[i] == t for i, t in zip(reloaded.item_ids, reloaded.item_text["title"]))


def test_recbole_single_inter_with_timestamp(tmp_path):
    (tmp_path / "x.inter").write_text("user_id:token\titem_id:token\ttimestamp:float\n1\t2\t5\n1\t3\t6\n")
    inter = FORMATS["recbole"](tmp_path)
    assert list(inter.order) == [5, 6]


def test_recbole_item_files_name_their_title_column_as_the_benchmarks_do(tmp_path):
    """RecBole's ml-100k.item heads its titles movie_title:token_seq: that is the title (read as the other fields
    before, so `glta recommend` showed no names); numeric columns stay out of the text."""
    (tmp_path / "x.inter").write_text("user_id:token\titem_id:token\n1\t2\n1\t3\n")
    (tmp_path / "x.item").write_text("item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\t"
                                     "price:float\n2\tHeat\t1995\tAction\t3.5\n3\tBabe\t1995\tFamily\t2.0\n")
    inter = FORMATS["recbole"](tmp_path)
    assert inter.item_text == {"title": ["Heat", "Babe"], "release_year": ["1995", "1995"],
                               "class": ["Action", "Family"]}


def test_unknown_dataset_name_lists_builtins():
    with pytest.raises(GLTAError, match="Built-in names: ml-1m"):
        load_dataset(DataConfig(name="ml-2m"))


def test_missing_path_and_undetectable_format(tmp_path):
    with pytest.raises(GLTAError, match="does not exist"):
        load_dataset(DataConfig(name="x", path=str(tmp_path / "nope")))
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(GLTAError, match="pass --format"):
        load_dataset(DataConfig(name="x", path=str(tmp_path)))


def test_cache_is_used_and_keyed_by_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("GLTA_CACHE_DIR", str(tmp_path / "cache"))
    first = load_dataset(DataConfig(name="synthetic"))
    files = list((tmp_path / "cache" / "data").glob("*.npz"))
    assert len(files) == 1
    again = load_dataset(DataConfig(name="synthetic"))
    assert again.fingerprint() == first.fingerprint()
    other = load_dataset(DataConfig(name="synthetic", seed=3))
    assert other.fingerprint() != first.fingerprint()
    assert len(list((tmp_path / "cache" / "data").glob("*.npz"))) == 2
    files[0].write_bytes(b"garbage")  # a damaged cache is rebuilt, not trusted
    assert load_dataset(DataConfig(name="synthetic")).fingerprint() == first.fingerprint()


def test_csv_dates_and_bad_timestamp(tmp_path):
    path = tmp_path / "interactions.csv"
    path.write_text("user,item,timestamp\nu1,i1,100\nu1,i2,2020-01-01\n")
    inter = FORMATS["csv"](path)
    assert inter.order[0] == 100 and inter.order[1] == 1577836800
    path.write_text("user,item,timestamp\nu1,i1,100\nu1,i2,yesterday\n")
    with pytest.raises(DataFormatError, match="line 3"):
        FORMATS["csv"](path)


def test_ids_stay_exact_strings(tmp_path):
    """Ids never pass through numbers: '007' and '7', '1e3' and '1000', and 21-digit ids stay distinct."""
    long_a, long_b = "123456789012345678901", "123456789012345678902"
    path = tmp_path / "interactions.csv"
    path.write_text(f"user,item\n007,1e3\n7,1000\n{long_a},5\n{long_b},5\n")
    inter = FORMATS["csv"](path)
    assert sorted(_pairs(inter)) == sorted([("007", "1e3"), ("7", "1000"), (long_a, "5"), (long_b, "5")])
    digits = tmp_path / "digits.csv"
    digits.write_text("user,item\n10,3\n9,20\n007,3\n7,3\n")
    users = list(FORMATS["csv"](digits).user_ids)
    assert users == ["007", "7", "9", "10"]  # by value, then spelling: the order numeric ids always had


def test_data_list_describes_every_format(capsys):
    """`glta data list` says in a line what each format reads; a format added without that line fails here."""
    from glta.cli import main
    from glta.data.formats import FORMAT_FILES, FORMATS

    assert set(FORMAT_FILES) == set(FORMATS)
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name, files in FORMAT_FILES.items():
        assert f"  {name:<22} {files}" in out
