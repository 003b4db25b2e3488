"""Excel workbooks for tests: {sheet name: rows} as .xlsx bytes."""
import io


def workbook_bytes(sheets: dict) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        ws = book.create_sheet(name)
        for row in rows:
            ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
