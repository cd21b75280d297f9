"""Import of a county's institution register (机构名册) from .xlsx or .csv.

The file is the register as ``alliances.exports`` writes it (or any sheet with the same
column titles): the header row is found among the first rows by its Chinese column
titles, title and footer rows are ignored. Three steps:

1. ``read_upload`` checks the file (size, real type by content, encoding) and reads the
   header and the data rows into a ``RawTable`` (cell values only, nothing resolved);
2. ``validate`` resolves every row against the county as it is now (a constant number of
   queries whatever the number of rows) and says what each row will do: 新建 / 更新 (with the
   changed fields) / 不变, or which cells are wrong;
3. ``apply_import`` writes a valid result in one transaction through the model rules
   (``Institution.full_clean``) and the membership services; if anything fails, nothing is
   saved and ``ImportFailed`` carries the errors.

Between the preview and the confirmation the ``RawTable`` is kept server-side
(``store_pending`` / ``load_pending``: a JSON file under ``MEDIA_ROOT/imports`` named by a
random token that only the uploading session knows); the confirmation validates it again
against the database of that moment. Rows are keyed by county and 机构名称, so importing the
same file twice changes nothing. 状态 is not imported: deactivating an institution is a
separate action.

The package is split by concern: ``results`` (``RawTable``, ``Issue``, ``RowResult``,
``ImportResult``, ``ImportFailed``), ``reading`` (the upload and its header), ``cells`` (cleaning
cell values), ``state`` (the county read once), ``validation`` and ``memberships`` (checking
the rows), ``applying`` (writing them) and ``pending`` (the upload kept for the confirmation). Beside the
institution register: ``membership_file``, the county's alliance membership register (医共体成员名册:
alliance, institution, role, date), read and written by the same parts, its institutions found by
``finding``; ``registers``, both registers of the import API (``institutions``, ``memberships``).
This module re-exports the public names, so callers use ``alliances.imports.<name>``.
"""

from alliances.imports.applying import FIELD_BY_MODEL_FIELD, apply_import
from alliances.imports.cells import KIND_SYNONYMS, MAX_INT, ROLE_SYNONYMS, CellError
from alliances.imports.pending import (
    KIND as PENDING_KIND,
)
from alliances.imports.pending import (
    PENDING_MAX_AGE,
    SESSION_KEY,
    TOKEN_RE,
    discard_pending,
    load_pending,
    pending_owner,
    store_pending,
    update_pending,
)
from alliances.imports.reading import (
    BLANK_RUN_LIMIT,
    FIELDS,
    FOOTER_PREFIXES,
    HEADER_SEARCH_ROWS,
    IGNORED_KEYS,
    MAX_COLUMNS,
    MAX_DATA_ROWS,
    MAX_UPLOAD_BYTES,
    OLE_SIGNATURE,
    REQUIRED_KEYS,
    TITLE_ALIASES,
    TOTAL_TEXTS,
    ZIP_SIGNATURE,
    RegisterRead,
    read_register,
    read_register_data,
    read_upload,
)
from alliances.imports.results import (
    FIELD_KEYS,
    MEMBERSHIP_KEYS,
    Change,
    ImportFailed,
    ImportResult,
    Issue,
    RawTable,
    RowResult,
)
from alliances.imports.validation import validate
from core.uploads import MAX_UNZIPPED_BYTES

__all__ = [
    "BLANK_RUN_LIMIT",
    "FIELD_BY_MODEL_FIELD",
    "FIELD_KEYS",
    "FOOTER_PREFIXES",
    "HEADER_SEARCH_ROWS",
    "IGNORED_KEYS",
    "KIND_SYNONYMS",
    "MAX_COLUMNS",
    "MAX_DATA_ROWS",
    "MAX_INT",
    "MAX_UNZIPPED_BYTES",
    "MAX_UPLOAD_BYTES",
    "MEMBERSHIP_KEYS",
    "OLE_SIGNATURE",
    "PENDING_KIND",
    "PENDING_MAX_AGE",
    "REQUIRED_KEYS",
    "ROLE_SYNONYMS",
    "SESSION_KEY",
    "TITLE_ALIASES",
    "TOKEN_RE",
    "TOTAL_TEXTS",
    "ZIP_SIGNATURE",
    "CellError",
    "Change",
    "ImportFailed",
    "ImportResult",
    "Issue",
    "RawTable",
    "RowResult",
    "apply_import",
    "discard_pending",
    "load_pending",
    "pending_owner",
    "read_upload",
    "FIELDS",
    "RegisterRead",
    "read_register",
    "read_register_data",
    "store_pending",
    "update_pending",
    "validate",
]
