#!/usr/bin/env bash
# Regenerate the workbook fixtures of tests/data with a real office suite (LibreOffice), so that
# numbers are numeric cells and number formats (0.00E+00) are what Excel would store.
# The generated files are committed: tests never need LibreOffice.
#
# Needs: soffice (Debian: apt-get install -y libreoffice-calc-nogui; its python3-uno saves the
# password-protected .ods/.xls) and, for encrypted.xlsx, msoffcrypto-tool (pip; installed into
# the project venv when missing).
# Usage: bash tests/data/make_office_fixtures.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
py="$root/.venv/bin/python"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
command -v soffice >/dev/null || { echo "soffice not found: apt-get install -y libreoffice-calc-nogui" >&2; exit 1; }

# --- flat ODS sources: every cell typed on purpose --------------------------------------
fods_head() {
  cat <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"
 xmlns:number="urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0"
 office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.spreadsheet">
<office:automatic-styles>
 <number:number-style style:name="Nsci"><number:scientific-number number:decimal-places="2" number:min-integer-digits="1" number:min-exponent-digits="2"/></number:number-style>
 <number:number-style style:name="Nint"><number:number number:decimal-places="0" number:min-integer-digits="1"/></number:number-style>
 <style:style style:name="sci" style:family="table-cell" style:data-style-name="Nsci"/>
 <style:style style:name="int" style:family="table-cell" style:data-style-name="Nint"/>
</office:automatic-styles>
<office:body><office:spreadsheet>
EOF
}
tail_() { echo '</office:spreadsheet></office:body></office:document>'; }
# s TEXT: a text cell; n VALUE [STYLE]: a number cell; e: an empty cell
s() { printf '<table:table-cell office:value-type="string"><text:p>%s</text:p></table:table-cell>' "$1"; }
n() { printf '<table:table-cell office:value-type="float" office:value="%s"%s><text:p>%s</text:p></table:table-cell>' "$1" "${2:+ table:style-name=\"$2\"}" "$1"; }
e() { printf '<table:table-cell/>'; }
row() { printf '<table:table-row>%s</table:table-row>\n' "$*"; }
blank() { printf '<table:table-row><table:table-cell/></table:table-row>\n'; }
sheet() { printf '<table:table table:name="%s">\n' "$1"; }
endsheet() { printf '</table:table>\n'; }

basic_rows() {
  row "$(s first_name)$(s last_name)$(s phone)$(s status)$(s priority)$(s retries)$(s campaign)"
  row "$(s Ann)$(s Lee)$(s '+1 (213) 555-0100')$(s new)$(n 1)$(n 3)$(s Spring)"
  row "$(s Bob)$(s Ray)$(n 2135550101)$(s success)$(n 2)$(e)$(s Spring)"
  row "$(s 'Chloé')$(s Day)$(s '213.555.0102')$(e)$(e)$(n 5)$(s Spring)"
}

{ fods_head; sheet Leads; basic_rows; endsheet; tail_; } > "$work/basic.fods"

{ fods_head; sheet Leads
  row "$(s 'Spring campaign leads')"
  blank
  row "$(s 'Exported 2026-03-01')$(e)$(s 'by ops')"
  row "$(s 'First Name')$(s 'Last Name')$(s 'Phone Number')$(s Status)$(s Priority)"
  row "$(s Ann)$(s Lee)$(s '+1 213 555 0100')$(s New)$(n 1)"
  row "$(s Bob)$(s Ray)$(s '(213) 555-0101')$(s FAILED)$(n 2)"
  row "$(s Cy)$(s Ng)$(s 'not a phone')$(s new)$(n 3)"
  endsheet; tail_; } > "$work/title_rows.fods"

{ fods_head; sheet Leads
  blank; blank
  row "$(e)$(s Phone)$(s Name)$(e)"
  row "$(e)$(s '2135550100')$(s 'Ann Lee')"
  row "$(e)$(s '2135550101')$(s 'Bob Ray')"
  blank
  row "$(e)$(s '2135550102')$(e)"
  blank; blank
  endsheet; tail_; } > "$work/blanks.fods"

{ fods_head
  sheet East
  row "$(s Phone)$(s 'First Name')"
  row "$(s '+1 213 555 0100')$(s Ann)"
  row "$(s '+1 213 555 0101')$(s Bob)"
  endsheet
  sheet West
  row "$(s Mobile)$(s 'First Name')"
  row "$(s '+1 213 555 0102')$(s Cy)"
  row "$(s '+1 213 555 0100')$(s Dee)"
  endsheet
  sheet Notes
  row "$(s 'Nothing to import here')"
  endsheet
  tail_; } > "$work/two_sheets.fods"

{ fods_head; sheet Damage
  row "$(s Phone)$(s Name)"
  row "$(n 2135550102)$(s general)"
  row "$(n 447701234567 sci)$(s scientific-format)"
  row "$(n 2135550103 int)$(s integer-format)"
  row "$(n 2135550104.5)$(s fraction)"
  row "$(s '4.47701E+11')$(s scientific-text)"
  row "$(n 12135550105)$(s eleven-digits)"
  endsheet; tail_; } > "$work/excel_damage.fods"

# Ten leads in column A and one stray cell far from them (a sparse sheet: calamine would lay
# out the whole block between them). stray_sheet ROWS_BEFORE COLUMNS_BEFORE
stray_sheet() {
  sheet Leads
  row "$(s Phone)$(s 'First Name')"
  for i in 0 1 2 3 4 5 6 7 8 9; do row "$(n 213555010$i)$(s "Lead $i")"; done
  printf '<table:table-row table:number-rows-repeated="%s"><table:table-cell/></table:table-row>\n' "$1"
  row "$(printf '<table:table-cell table:number-columns-repeated="%s"/>' "$2")$(s stray)"
  endsheet
}
{ fods_head; stray_sheet 199988 701; tail_; } > "$work/stray_zz200000.fods"    # ZZ200000
{ fods_head; stray_sheet 1048564 16383; tail_; } > "$work/stray_xfd1048576.fods" # XFD1048576
{ fods_head; stray_sheet 65524 255; tail_; } > "$work/stray_iv65536.fods"      # IV65536 (.xls)

# Cells of every kind an .ods holds, as LibreOffice writes them (the reference for the .ods
# reader is python-calamine's reading of the same file).
cell() { printf '<table:table-cell %s>%s</table:table-cell>' "$1" "$2"; }
{ fods_head; sheet Types
  row "$(s text)$(cell 'office:value-type="string"' '<text:p>two  <text:s text:c="3"/>spaces</text:p><text:p>and a second line</text:p>')"
  row "$(s date)$(cell 'office:value-type="date" office:date-value="2026-03-01"' '<text:p>01/03/26</text:p>')"
  row "$(s datetime)$(cell 'office:value-type="date" office:date-value="2026-03-01T10:30:05"' '<text:p>x</text:p>')"
  row "$(s time)$(cell 'office:value-type="time" office:time-value="PT10H30M00S"' '<text:p>10:30</text:p>')"
  row "$(s duration)$(cell 'office:value-type="time" office:time-value="PT30H00M00S"' '<text:p>30:00</text:p>')"
  row "$(s bool)$(cell 'office:value-type="boolean" office:boolean-value="true"' '<text:p>TRUE</text:p>')"
  row "$(s percent)$(cell 'office:value-type="percentage" office:value="0.25"' '<text:p>25%</text:p>')"
  row "$(s currency)$(cell 'office:value-type="currency" office:currency="EUR" office:value="5"' '<text:p>5 €</text:p>')"
  row "$(s phone)$(n 2135550101)"
  row "$(s fraction)$(n 2135550104.5)"
  row "$(s note)$(cell 'office:value-type="string"' '<office:annotation><text:p>a comment</text:p></office:annotation><text:p>shown</text:p>')"
  row "$(s repeated)$(cell 'office:value-type="string" table:number-columns-repeated="3"' '<text:p>r</text:p>')"
  printf '<table:table-row table:number-rows-repeated="3">%s%s</table:table-row>\n' "$(s 'row run')" "$(n 7)"
  endsheet; tail_; } > "$work/cell_types.fods"

# Two sheets, the first one empty: the error names the sheet with data.
{ fods_head; sheet Blank; blank; endsheet
  sheet Leads; row "$(s Phone)"; row "$(s '+1 213 555 0100')"; endsheet; tail_; } > "$work/empty_first_sheet.fods"

convert() { # convert SRC FORMAT NAME
  local out="$work/out_$2"
  mkdir -p "$out"
  soffice --headless --norestore --convert-to "$2" --outdir "$out" "$1" >/dev/null 2>&1
  cp "$out/$(basename "${1%.*}").$2" "$here/$3"
  echo "wrote tests/data/$3"
}
convert "$work/basic.fods" xlsx basic.xlsx
convert "$work/basic.fods" xls basic.xls
convert "$work/basic.fods" ods basic.ods
convert "$work/title_rows.fods" xlsx title_rows.xlsx
convert "$work/blanks.fods" xlsx blanks.xlsx
convert "$work/two_sheets.fods" xlsx two_sheets.xlsx
convert "$work/excel_damage.fods" xlsx excel_damage.xlsx

convert "$work/cell_types.fods" ods cell_types.ods
convert "$work/empty_first_sheet.fods" ods empty_first_sheet.ods
convert "$work/empty_first_sheet.fods" xls empty_first_sheet.xls
convert "$work/stray_zz200000.fods" ods stray_zz200000.ods
convert "$work/stray_xfd1048576.fods" ods stray_xfd1048576.ods
convert "$work/stray_iv65536.fods" xls stray_iv65536.xls

# xls_column_60000.xls: stray_iv65536.xls with its stray cell's column rewritten from 255 to
# 60,000 — a BIFF cell record keeps 16 bits of column, Excel's grid stops at 256 (python-calamine
# laid out a 125 GB block and aborted).
"$py" - "$here/stray_iv65536.xls" "$here/xls_column_60000.xls" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
at = data.find(bytes([0xFD, 0x00, 0x0A, 0x00, 0xFF, 0xFF, 0xFF, 0x00]))  # LABELSST at IV65536
assert at > 0
data[at + 6 : at + 8] = (60_000).to_bytes(2, "little")
open(sys.argv[2], "wb").write(data)
PY
echo "wrote tests/data/xls_column_60000.xls"

# encrypted.ods / encrypted.xls: basic.ods protected with the password "secret" by LibreOffice.
for fmt in "ods:calc8" "xls:MS Excel 97"; do
  /usr/bin/python3 "$here/soffice_password.py" "$here/basic.ods" "$here/encrypted.${fmt%%:*}" \
    "${fmt#*:}" secret
  echo "wrote tests/data/encrypted.${fmt%%:*}"
done

# excel4.xls: an Excel 4.0 (BIFF4) worksheet, written record by record (no office suite writes
# the format any more; LibreOffice still reads it: soffice --convert-to csv excel4.xls).
"$py" - "$here/excel4.xls" <<'PY'
import struct, sys
def rec(rid, data=b""): return struct.pack("<HH", rid, len(data)) + data
def label(r, c, s): b = s.encode("latin-1"); return rec(0x0204, struct.pack("<HHHH", r, c, 0, len(b)) + b)
def number(r, c, v): return rec(0x0203, struct.pack("<HHHd", r, c, 0, v))
body = rec(0x0409, struct.pack("<HHH", 0, 0x0010, 0))  # BOF: BIFF4, a worksheet
body += label(0, 0, "Phone") + label(0, 1, "First Name") + number(1, 0, 2135550100) + label(1, 1, "Ann")
open(sys.argv[1], "wb").write(body + rec(0x000A))  # EOF
PY
echo "wrote tests/data/excel4.xls"

# empty.xlsx / empty.ods: 0-byte files, as a failed download or a full disk leaves them.
: > "$here/empty.xlsx"; : > "$here/empty.ods"
echo "wrote tests/data/empty.xlsx, tests/data/empty.ods"

# corrupt.xlsx: a real workbook cut in half (the ZIP directory is lost).
size=$(stat -c %s "$here/basic.xlsx")
head -c $((size / 2)) "$here/basic.xlsx" > "$here/corrupt.xlsx"
echo "wrote tests/data/corrupt.xlsx"

# encrypted.xlsx: basic.xlsx protected with the password "secret" (ECMA-376 agile encryption,
# an OLE2 container holding EncryptionInfo + EncryptedPackage, as Excel writes it).
if [ ! -x "$root/.venv/bin/msoffcrypto-tool" ]; then "$py" -m pip install --quiet msoffcrypto-tool; fi
"$root/.venv/bin/msoffcrypto-tool" -e -p secret "$here/basic.xlsx" "$here/encrypted.xlsx"
echo "wrote tests/data/encrypted.xlsx"
