package symdb

import "fmt"

// validate checks every reference between the four tables once, so that
// users of a Partition can index without bounds checks. On failure it
// returns the table holding the bad reference and the table it points
// into: either may be the corrupt one.
func (st *symbolTables) validate() (from, to int, err error) {
	nStrings := uint64(len(st.strings))
	for i := range st.functions {
		f := &st.functions[i]
		if uint64(f.Name) >= nStrings || uint64(f.SystemName) >= nStrings || uint64(f.Filename) >= nStrings {
			return tableFunctions, tableStrings, fmt.Errorf("function %d refers to strings %d, %d, %d of %d", i, f.Name, f.SystemName, f.Filename, nStrings)
		}
	}
	for i := range st.mappings {
		m := &st.mappings[i]
		if uint64(m.Filename) >= nStrings || uint64(m.BuildID) >= nStrings {
			return tableMappings, tableStrings, fmt.Errorf("mapping %d refers to strings %d, %d of %d", i, m.Filename, m.BuildID, nStrings)
		}
	}
	nMappings := uint64(len(st.mappings))
	nFunctions := uint64(len(st.functions))
	for i := range st.locations {
		loc := &st.locations[i]
		// MappingId 0 also means "no mapping" (block-format.md §11.2), which
		// is the only value a partition without mappings can hold.
		if uint64(loc.MappingID) >= nMappings && (nMappings != 0 || loc.MappingID != 0) {
			return tableLocations, tableMappings, fmt.Errorf("location %d refers to mapping %d of %d", i, loc.MappingID, nMappings)
		}
		for j := range loc.Lines {
			if uint64(loc.Lines[j].FunctionID) >= nFunctions {
				return tableLocations, tableFunctions, fmt.Errorf("location %d, line %d refers to function %d of %d", i, j, loc.Lines[j].FunctionID, nFunctions)
			}
		}
	}
	return 0, 0, nil
}
