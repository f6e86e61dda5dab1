package symdb

// Row types of the parquet symbol tables (block-format.md §7), for writers:
// blocks of meta v1 and v2 keep them at the block root, symdb format 2 in
// symbols/. Readers resolve their columns by path and ignore the Id/ID
// columns; writers store positions there, as head-written blocks do.
type (
	// ParquetLocation is a row of locations.parquet. Line is a repeated
	// group, not a LIST.
	ParquetLocation struct {
		Id        uint64        `parquet:"Id"`
		MappingId uint64        `parquet:"MappingId"`
		Address   uint64        `parquet:"Address"`
		Line      []ParquetLine `parquet:"Line"`
		IsFolded  bool          `parquet:"IsFolded"`
	}
	// ParquetLine is one line of a ParquetLocation.
	ParquetLine struct {
		FunctionId uint64 `parquet:"FunctionId"`
		Line       int64  `parquet:"Line"`
	}
	// ParquetFunction is a row of functions.parquet.
	ParquetFunction struct {
		Id         uint64 `parquet:"Id"`
		Name       int64  `parquet:"Name"`
		SystemName int64  `parquet:"SystemName"`
		Filename   int64  `parquet:"Filename"`
		StartLine  int64  `parquet:"StartLine"`
	}
	// ParquetMapping is a row of mappings.parquet.
	ParquetMapping struct {
		Id              uint64 `parquet:"Id"`
		MemoryStart     uint64 `parquet:"MemoryStart"`
		MemoryLimit     uint64 `parquet:"MemoryLimit"`
		FileOffset      uint64 `parquet:"FileOffset"`
		Filename        int64  `parquet:"Filename"`
		BuildId         int64  `parquet:"BuildId"`
		HasFunctions    bool   `parquet:"HasFunctions"`
		HasFilenames    bool   `parquet:"HasFilenames"`
		HasLineNumbers  bool   `parquet:"HasLineNumbers"`
		HasInlineFrames bool   `parquet:"HasInlineFrames"`
	}
	// ParquetString is a row of strings.parquet.
	ParquetString struct {
		ID     uint64 `parquet:"ID,delta"`
		String string `parquet:"String,dict"`
	}
)
