"""CSV and XLSX documents: each row kept with its header, each sheet a section, bounded like the other readers."""

import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from app.core.knowledge.index import add_paths, chunk_sections
from app.core.knowledge.readers import DocumentError, document_kind, read_sections


def _workbook(path: Path) -> Path:
    book = Workbook()
    bonds = book.active
    bonds.title = "Bonds"
    bonds.append(["Bond", "Coupon", "Maturity"])
    bonds.append(["Zephyr 2031", "4.25%", "2031-03-15"])
    bonds.append(["Aurora 2029", "3.10%", "2029-09-01"])
    people = book.create_sheet("Contacts")
    people.append([None, None])
    people.append(["Name", "Desk"])
    people.append(["Maria Okafor", "Treasury"])
    book.save(path)
    return path


def test_each_sheet_is_a_section_and_rows_keep_their_header(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "book.xlsx")
    assert document_kind(path) == "xlsx"
    sections = list(read_sections(path, "xlsx"))
    assert [s.location for s in sections] == ["sheet Bonds", "sheet Contacts"]
    assert sections[0].text.splitlines() == [
        "Bond: Zephyr 2031; Coupon: 4.25%; Maturity: 2031-03-15",
        "Bond: Aurora 2029; Coupon: 3.10%; Maturity: 2029-09-01",
    ]
    assert sections[1].text == "Name: Maria Okafor; Desk: Treasury\n"  # the first non-empty row is the header


def test_csv_rows_keep_their_header_and_name_their_rows(tmp_path: Path) -> None:
    path = tmp_path / "desks.csv"
    path.write_text('Name,Desk,Note\nMaria Okafor,Treasury,"likes ""bonds"", a lot"\n,,\nJonas Lindqvist,Equities\n')
    assert document_kind(path) == "csv"
    sections = list(read_sections(path, "csv"))
    assert [(s.location, s.text) for s in sections] == [
        (
            "rows 2-4",
            'Name: Maria Okafor; Desk: Treasury; Note: likes "bonds", a lot\nName: Jonas Lindqvist; Desk: Equities\n',
        )
    ]
    tsv = tmp_path / "desks.tsv"
    tsv.write_text("Name\tDesk\nMaria\tTreasury\n")
    assert list(read_sections(tsv, "csv"))[0].text == "Name: Maria; Desk: Treasury\n"


def test_a_long_table_is_cut_into_passages_that_each_carry_the_header(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text("Day,Close\n" + "".join(f"2024-01-{n % 28 + 1:02d},{100 + n}\n" for n in range(3000)))
    passages = list(chunk_sections(read_sections(path, "csv")))
    assert len(passages) > 10
    for _location, text in passages:  # each full row names its columns (the first line may be the overlap's tail)
        assert all(line.startswith("Day: 2024-01-") and "; Close: " in line for line in text.splitlines()[1:])


def test_bad_tables_are_refused_with_a_reason(home: Path, tmp_path: Path) -> None:
    fake = tmp_path / "fake.xlsx"
    fake.write_text("not a zip")
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"<" + b" " * (80 * 2**20))
    huge_field = tmp_path / "field.csv"
    huge_field.write_text('a,b\n"' + "x" * 200_000 + '",1\n')
    for path, reason in ((fake, "not a readable XLSX"), (bomb, "zip bomb"), (huge_field, "not a readable CSV")):
        with pytest.raises(DocumentError, match=reason):
            list(read_sections(path, document_kind(path)))
    from app.core.store import Store

    store = Store(home / "roundtable.db")
    report = add_paths(store, "default", [fake, bomb, _workbook(tmp_path / "good.xlsx")])
    assert report.added == [str(tmp_path / "good.xlsx")] and len(report.failed) == 2
    store.close()
