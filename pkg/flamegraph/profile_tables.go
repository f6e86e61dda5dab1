package flamegraph

import (
	"encoding/binary"

	"google.golang.org/protobuf/encoding/protowire"

	googlev1 "github.com/cinder-profiling/cinder/proto/google/v1"
)

// profileTables numbers what the locations of a profile use: the
// functions, mappings and strings, each from 1 (strings from 0, the empty
// string) in order of first use. Build makes messages of them and
// AppendEncoded encodes them directly (appendTables).
type profileTables struct {
	locOrder []int32 // builder locations, in the order of their IDs from 1
	fnOrder  []int32 // builder functions, likewise
	mapOrder []int32 // builder mappings, likewise
	fnID     []uint64
	mapID    []uint64
	strOrder []int32 // builder strings, in the order of the string table
	strID    []int64 // builder string → string table index, -1 unused
	// mappings is len(mapOrder), or 1 for the mapping that the truncation
	// stub alone uses.
	mappings  int
	lineCount int
	// sampleType and periodType are string table indexes: type, unit.
	sampleType, periodType [2]int64
}

// numberTables numbers the tables that the locations of locOrder use.
func (b *ProfileBuilder) numberTables(locOrder []int32) *profileTables {
	// Every string the profile needs exists before the ID tables are made.
	typeStrs := [...]int32{
		b.str(""),
		b.str(b.pt.SampleType), b.str(b.pt.SampleUnit),
		b.str(b.pt.PeriodType), b.str(b.pt.PeriodUnit),
	}
	t := &profileTables{
		locOrder: locOrder,
		fnID:     make([]uint64, len(b.funcs)),
		mapID:    make([]uint64, len(b.maps)),
		strID:    make([]int64, len(b.strs)),
	}
	for i := range t.strID {
		t.strID[i] = -1
	}
	t.str(typeStrs[0])
	t.sampleType = [2]int64{t.str(typeStrs[1]), t.str(typeStrs[2])}
	t.periodType = [2]int64{t.str(typeStrs[3]), t.str(typeStrs[4])}

	usesStubMapping := false
	for _, l := range locOrder {
		loc := &b.locs[l]
		switch {
		case loc.mapping == stubMapping:
			usesStubMapping = true
		case loc.mapping >= 0 && t.mapID[loc.mapping] == 0:
			t.mapOrder = append(t.mapOrder, loc.mapping)
			t.mapID[loc.mapping] = uint64(len(t.mapOrder))
		}
		t.lineCount += int(loc.lineCount)
		for _, ln := range b.lines[loc.lineStart : loc.lineStart+loc.lineCount] {
			if t.fnID[ln.function] == 0 {
				t.fnOrder = append(t.fnOrder, ln.function)
				t.fnID[ln.function] = uint64(len(t.fnOrder))
			}
		}
	}
	for _, f := range t.fnOrder {
		fn := &b.funcs[f]
		t.str(fn.name)
		t.str(fn.systemName)
		t.str(fn.filename)
	}
	for _, m := range t.mapOrder {
		mp := &b.maps[m]
		t.str(mp.filename)
		t.str(mp.buildID)
	}
	t.mappings = len(t.mapOrder)
	if usesStubMapping && t.mappings == 0 {
		t.mappings = 1
	}
	return t
}

// str returns the string table index of builder string s, giving it the
// next one on first use.
func (t *profileTables) str(s int32) int64 {
	if t.strID[s] < 0 {
		t.strID[s] = int64(len(t.strOrder))
		t.strOrder = append(t.strOrder, s)
	}
	return t.strID[s]
}

// locationMapping is the mapping ID of location loc in the profile.
func (t *profileTables) locationMapping(loc *pbLocation) uint64 {
	switch {
	case loc.mapping == stubMapping:
		return 1
	case loc.mapping >= 0:
		return t.mapID[loc.mapping]
	}
	return 0
}

// Tags of the profile fields after the samples, and of the fields of
// their messages (field number << 3 | wire type).
const (
	tagProfileMapping           = 3<<3 | byte(protowire.BytesType)
	tagProfileLocation          = 4<<3 | byte(protowire.BytesType)
	tagProfileFunction          = 5<<3 | byte(protowire.BytesType)
	tagProfileString            = 6<<3 | byte(protowire.BytesType)
	tagProfileTimeNanos         = 9<<3 | byte(protowire.VarintType)
	tagProfileDurationNanos     = 10<<3 | byte(protowire.VarintType)
	tagProfilePeriodType        = 11<<3 | byte(protowire.BytesType)
	tagProfilePeriod            = 12<<3 | byte(protowire.VarintType)
	tagProfileDefaultSampleType = 14<<3 | byte(protowire.VarintType)

	tagLocationID      = 1<<3 | byte(protowire.VarintType)
	tagLocationMapping = 2<<3 | byte(protowire.VarintType)
	tagLocationAddress = 3<<3 | byte(protowire.VarintType)
	tagLocationLine    = 4<<3 | byte(protowire.BytesType)
	tagLocationFolded  = 5<<3 | byte(protowire.VarintType)
	tagLineFunction    = 1<<3 | byte(protowire.VarintType)
	tagLineLine        = 2<<3 | byte(protowire.VarintType)
)

// varintField is the size of a varint field with a one-byte tag; proto3
// leaves out a field at its zero value.
func varintField(v uint64) int {
	if v == 0 {
		return 0
	}
	return 1 + protowire.SizeVarint(v)
}

// bytesField is the size of a length-delimited field of n bytes with a
// one-byte tag.
func bytesField(n int) int {
	return 1 + protowire.SizeVarint(uint64(n)) + n
}

func appendVarintField(out []byte, tag byte, v uint64) []byte {
	if v == 0 {
		return out
	}
	return binary.AppendUvarint(append(out, tag), v)
}

func appendBoolField(out []byte, tag byte, v bool) []byte {
	if !v {
		return out
	}
	return append(out, tag, 1)
}

func lineSize(fnID uint64, ln *pbLine) int {
	return varintField(fnID) + varintField(uint64(ln.line))
}

func (b *ProfileBuilder) locationSize(t *profileTables, id uint64, loc *pbLocation) int {
	n := varintField(id) + varintField(t.locationMapping(loc)) + varintField(loc.address)
	for j := loc.lineStart; j < loc.lineStart+loc.lineCount; j++ {
		ln := &b.lines[j]
		n += bytesField(lineSize(t.fnID[ln.function], ln))
	}
	if loc.folded {
		n += 2
	}
	return n
}

func (t *profileTables) functionSize(id uint64, fn *pbFunction) int {
	return varintField(id) + varintField(uint64(t.strID[fn.name])) + varintField(uint64(t.strID[fn.systemName])) +
		varintField(uint64(t.strID[fn.filename])) + varintField(uint64(fn.startLine))
}

func (t *profileTables) mappingSize(id uint64, mp *pbMapping) int {
	n := varintField(id)
	if mp == nil { // the stub's mapping
		return n
	}
	n += varintField(mp.start) + varintField(mp.limit) + varintField(mp.offset)
	n += varintField(uint64(t.strID[mp.filename])) + varintField(uint64(t.strID[mp.buildID]))
	for _, f := range [...]bool{mp.hasFunctions, mp.hasFilenames, mp.hasLineNumbers, mp.hasInlineFrames} {
		if f {
			n += 2
		}
	}
	return n
}

// profileMapping returns the builder mapping of profile mapping i (from 0), nil
// for the stub's.
func (b *ProfileBuilder) profileMapping(t *profileTables, i int) *pbMapping {
	if i < len(t.mapOrder) {
		return &b.maps[t.mapOrder[i]]
	}
	return nil
}

// tablesSize is the size of what appendTables writes.
func (b *ProfileBuilder) tablesSize(t *profileTables) int {
	n := 0
	for i := range t.mappings {
		n += bytesField(t.mappingSize(uint64(i+1), b.profileMapping(t, i)))
	}
	for i, l := range t.locOrder {
		n += bytesField(b.locationSize(t, uint64(i+1), &b.locs[l]))
	}
	for i, f := range t.fnOrder {
		n += bytesField(t.functionSize(uint64(i+1), &b.funcs[f]))
	}
	for _, s := range t.strOrder {
		n += bytesField(len(b.strs[s]))
	}
	return n + b.trailerSize(t)
}

// periodTypeSize is the size of the period type message.
func (t *profileTables) periodTypeSize() int {
	return varintField(uint64(t.periodType[0])) + varintField(uint64(t.periodType[1]))
}

func (b *ProfileBuilder) trailerSize(t *profileTables) int {
	return varintField(uint64(b.timeNanos)) + varintField(uint64(b.durationNanos)) + bytesField(t.periodTypeSize()) +
		varintField(uint64(Period(b.pt.Name))) + varintField(uint64(t.sampleType[0]))
}

// appendTables appends the fields of the profile that follow its samples
// (mapping, location, function, string_table, then time_nanos to
// default_sample_type) as proto.Marshal writes them for Build's profile:
// in field order, each message after its size, zero scalars left out.
func (b *ProfileBuilder) appendTables(out []byte, t *profileTables) []byte {
	for i := range t.mappings {
		id, mp := uint64(i+1), b.profileMapping(t, i)
		out = append(out, tagProfileMapping)
		out = binary.AppendUvarint(out, uint64(t.mappingSize(id, mp)))
		out = appendVarintField(out, 1<<3, id)
		if mp == nil {
			continue
		}
		out = appendVarintField(out, 2<<3, mp.start)
		out = appendVarintField(out, 3<<3, mp.limit)
		out = appendVarintField(out, 4<<3, mp.offset)
		out = appendVarintField(out, 5<<3, uint64(t.strID[mp.filename]))
		out = appendVarintField(out, 6<<3, uint64(t.strID[mp.buildID]))
		out = appendBoolField(out, 7<<3, mp.hasFunctions)
		out = appendBoolField(out, 8<<3, mp.hasFilenames)
		out = appendBoolField(out, 9<<3, mp.hasLineNumbers)
		out = appendBoolField(out, 10<<3, mp.hasInlineFrames)
	}
	for i, l := range t.locOrder {
		id, loc := uint64(i+1), &b.locs[l]
		out = append(out, tagProfileLocation)
		out = binary.AppendUvarint(out, uint64(b.locationSize(t, id, loc)))
		out = appendVarintField(out, tagLocationID, id)
		out = appendVarintField(out, tagLocationMapping, t.locationMapping(loc))
		out = appendVarintField(out, tagLocationAddress, loc.address)
		for j := loc.lineStart; j < loc.lineStart+loc.lineCount; j++ {
			ln := &b.lines[j]
			fnID := t.fnID[ln.function]
			out = append(out, tagLocationLine)
			out = binary.AppendUvarint(out, uint64(lineSize(fnID, ln)))
			out = appendVarintField(out, tagLineFunction, fnID)
			out = appendVarintField(out, tagLineLine, uint64(ln.line))
		}
		out = appendBoolField(out, tagLocationFolded, loc.folded)
	}
	for i, f := range t.fnOrder {
		id, fn := uint64(i+1), &b.funcs[f]
		out = append(out, tagProfileFunction)
		out = binary.AppendUvarint(out, uint64(t.functionSize(id, fn)))
		out = appendVarintField(out, 1<<3, id)
		out = appendVarintField(out, 2<<3, uint64(t.strID[fn.name]))
		out = appendVarintField(out, 3<<3, uint64(t.strID[fn.systemName]))
		out = appendVarintField(out, 4<<3, uint64(t.strID[fn.filename]))
		out = appendVarintField(out, 5<<3, uint64(fn.startLine))
	}
	for _, s := range t.strOrder {
		out = append(out, tagProfileString)
		out = binary.AppendUvarint(out, uint64(len(b.strs[s])))
		out = append(out, b.strs[s]...)
	}
	out = appendVarintField(out, tagProfileTimeNanos, uint64(b.timeNanos))
	out = appendVarintField(out, tagProfileDurationNanos, uint64(b.durationNanos))
	out = append(out, tagProfilePeriodType)
	out = binary.AppendUvarint(out, uint64(t.periodTypeSize()))
	out = appendVarintField(out, 1<<3, uint64(t.periodType[0]))
	out = appendVarintField(out, 2<<3, uint64(t.periodType[1]))
	out = appendVarintField(out, tagProfilePeriod, uint64(Period(b.pt.Name)))
	return appendVarintField(out, tagProfileDefaultSampleType, uint64(t.sampleType[0]))
}

// emitTables builds the profile without its samples: the locations of
// locOrder, numbered from 1 in that order, with the functions, mappings and
// strings they use numbered in order of first use.
func (b *ProfileBuilder) emitTables(locOrder []int32) *googlev1.Profile {
	t := b.numberTables(locOrder)
	locMsg := make([]googlev1.Location, len(locOrder))
	locPtr := make([]*googlev1.Location, len(locOrder))
	lineMsg := make([]googlev1.Line, t.lineCount)
	linePtr := make([]*googlev1.Line, t.lineCount)
	lineOff := 0
	for i, l := range locOrder {
		loc := &b.locs[l]
		m := &locMsg[i]
		m.Id = uint64(i + 1)
		m.Address = loc.address
		m.IsFolded = loc.folded
		m.MappingId = t.locationMapping(loc)
		lines := b.lines[loc.lineStart : loc.lineStart+loc.lineCount]
		m.Line = linePtr[lineOff : lineOff+len(lines) : lineOff+len(lines)]
		for j, ln := range lines {
			lineMsg[lineOff+j].FunctionId = t.fnID[ln.function]
			lineMsg[lineOff+j].Line = ln.line
			linePtr[lineOff+j] = &lineMsg[lineOff+j]
		}
		lineOff += len(lines)
		locPtr[i] = m
	}

	fnMsg := make([]googlev1.Function, len(t.fnOrder))
	fnPtr := make([]*googlev1.Function, len(t.fnOrder))
	for i, f := range t.fnOrder {
		fn := &b.funcs[f]
		fnMsg[i] = googlev1.Function{
			Id:         uint64(i + 1),
			Name:       t.strID[fn.name],
			SystemName: t.strID[fn.systemName],
			Filename:   t.strID[fn.filename],
			StartLine:  fn.startLine,
		}
		fnPtr[i] = &fnMsg[i]
	}
	mapMsg := make([]googlev1.Mapping, t.mappings)
	mapPtr := make([]*googlev1.Mapping, t.mappings)
	for i := range mapMsg {
		m := &mapMsg[i]
		m.Id = uint64(i + 1)
		mapPtr[i] = m
		mp := b.profileMapping(t, i)
		if mp == nil {
			continue
		}
		m.MemoryStart = mp.start
		m.MemoryLimit = mp.limit
		m.FileOffset = mp.offset
		m.Filename = t.strID[mp.filename]
		m.BuildId = t.strID[mp.buildID]
		m.HasFunctions = mp.hasFunctions
		m.HasFilenames = mp.hasFilenames
		m.HasLineNumbers = mp.hasLineNumbers
		m.HasInlineFrames = mp.hasInlineFrames
	}
	strTable := make([]string, len(t.strOrder))
	for i, s := range t.strOrder {
		strTable[i] = b.strs[s]
	}
	sampleType := &googlev1.ValueType{Type: t.sampleType[0], Unit: t.sampleType[1]}
	return &googlev1.Profile{
		SampleType:        []*googlev1.ValueType{sampleType},
		Mapping:           mapPtr,
		Location:          locPtr,
		Function:          fnPtr,
		StringTable:       strTable,
		TimeNanos:         b.timeNanos,
		DurationNanos:     b.durationNanos,
		PeriodType:        &googlev1.ValueType{Type: t.periodType[0], Unit: t.periodType[1]},
		Period:            Period(b.pt.Name),
		DefaultSampleType: sampleType.Type,
	}
}
