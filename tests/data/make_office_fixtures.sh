#!/usr/bin/env bash
# Regenerate the workbook fixtures of tests/data with a real office suite (LibreOffice), so that
# numbers are numeric cells and number formats (0.00E+00) are what Excel would store.
# The generated files are committed: tests never need LibreOffice.
#
# Needs: soffice (Debian: apt-get install -y libreoffice-calc-nogui) and, for encrypted.xlsx,
# msoffcrypto-tool (pip; installed into the project venv when missing).
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

# corrupt.xlsx: a real workbook cut in half (the ZIP directory is lost).
size=$(stat -c %s "$here/basic.xlsx")
head -c $((size / 2)) "$here/basic.xlsx" > "$here/corrupt.xlsx"
echo "wrote tests/data/corrupt.xlsx"

# encrypted.xlsx: basic.xlsx protected with the password "secret" (ECMA-376 agile encryption,
# an OLE2 container holding EncryptionInfo + EncryptedPackage, as Excel writes it).
if [ ! -x "$root/.venv/bin/msoffcrypto-tool" ]; then "$py" -m pip install --quiet msoffcrypto-tool; fi
"$root/.venv/bin/msoffcrypto-tool" -e -p secret "$here/basic.xlsx" "$here/encrypted.xlsx"
echo "wrote tests/data/encrypted.xlsx"
