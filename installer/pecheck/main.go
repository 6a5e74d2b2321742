// Command pecheck checks that a file is a complete, unaltered NSIS setup
// program: a valid Windows PE executable (parsed with debug/pe) followed by an
// NSIS data block whose declared length fits the file and whose CRC32
// matches. It prints what it found, including whether the file carries an
// Authenticode signature. scripts/test-nsis.sh runs it on the built setup.
//
//	go run ./installer/pecheck dist/yiwang-setup-1.2.3.exe
//	go run ./installer/pecheck -signed dist/yiwang-setup-1.2.3.exe
package main

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// Info describes a checked setup program.
type Info struct {
	Machine      string // i386 or amd64
	GUI          bool   // Windows GUI subsystem
	NSISOffset   int64  // offset of the NSIS first header
	NSISLength   int64  // declared length of the NSIS data, CRC included
	HeaderLength int64  // uncompressed length of the install header
	Signed       bool   // an Authenticode certificate table is present
	Size         int64
}

// nsisSig follows the 4-byte flags word of the NSIS first header.
var nsisSig = []byte{0xef, 0xbe, 0xad, 0xde, 'N', 'u', 'l', 'l', 's', 'o', 'f', 't', 'I', 'n', 's', 't'}

const (
	firstHeaderSize = 28
	nsisNoCRC       = 4 // FH_FLAGS_NO_CRC
	crcSkip         = 512
)

// Inspect checks r (size bytes) and returns what it found or the first problem.
func Inspect(r io.ReaderAt, size int64) (Info, error) {
	info := Info{Size: size}
	f, err := pe.NewFile(r)
	if err != nil {
		return info, fmt.Errorf("not a PE executable: %w", err)
	}
	defer f.Close()
	var secDir pe.DataDirectory
	switch oh := f.OptionalHeader.(type) {
	case *pe.OptionalHeader32:
		info.GUI = oh.Subsystem == pe.IMAGE_SUBSYSTEM_WINDOWS_GUI
		if oh.NumberOfRvaAndSizes > pe.IMAGE_DIRECTORY_ENTRY_SECURITY {
			secDir = oh.DataDirectory[pe.IMAGE_DIRECTORY_ENTRY_SECURITY]
		}
	case *pe.OptionalHeader64:
		info.GUI = oh.Subsystem == pe.IMAGE_SUBSYSTEM_WINDOWS_GUI
		if oh.NumberOfRvaAndSizes > pe.IMAGE_DIRECTORY_ENTRY_SECURITY {
			secDir = oh.DataDirectory[pe.IMAGE_DIRECTORY_ENTRY_SECURITY]
		}
	default:
		return info, errors.New("PE file has no optional header")
	}
	switch f.Machine {
	case pe.IMAGE_FILE_MACHINE_I386:
		info.Machine = "i386"
	case pe.IMAGE_FILE_MACHINE_AMD64:
		info.Machine = "amd64"
	case pe.IMAGE_FILE_MACHINE_ARM64:
		info.Machine = "arm64"
	default:
		return info, fmt.Errorf("unexpected PE machine %#x", f.Machine)
	}
	if !info.GUI {
		return info, errors.New("PE subsystem is not Windows GUI (an NSIS setup is a GUI program)")
	}
	if secDir.Size > 0 {
		if int64(secDir.VirtualAddress)+int64(secDir.Size) > size {
			return info, errors.New("certificate table runs past the end of the file")
		}
		info.Signed = true
	}

	// The NSIS first header sits at a 512-byte boundary after the stub.
	buf := make([]byte, firstHeaderSize)
	for off := int64(crcSkip); off+firstHeaderSize <= size; off += 512 {
		if _, err := r.ReadAt(buf, off); err != nil {
			return info, err
		}
		if !bytes.Equal(buf[4:20], nsisSig) {
			continue
		}
		flags := binary.LittleEndian.Uint32(buf[0:])
		info.NSISOffset = off
		info.HeaderLength = int64(binary.LittleEndian.Uint32(buf[20:]))
		info.NSISLength = int64(binary.LittleEndian.Uint32(buf[24:]))
		end := off + info.NSISLength
		if info.NSISLength < firstHeaderSize+4 || end > size {
			return info, fmt.Errorf("NSIS data declares %d bytes at offset %d but the file has %d: truncated", info.NSISLength, off, size)
		}
		if info.Signed && int64(secDir.VirtualAddress) < end {
			return info, errors.New("certificate table overlaps the NSIS data")
		}
		if flags&nsisNoCRC != 0 {
			return info, errors.New("NSIS CRC check is disabled in this setup")
		}
		// makensis stores the CRC32 of everything from byte 512 (after the
		// PE headers, which signing rewrites) up to the CRC itself.
		h := crc32.NewIEEE()
		if _, err := io.Copy(h, io.NewSectionReader(r, crcSkip, end-4-crcSkip)); err != nil {
			return info, err
		}
		var stored [4]byte
		if _, err := r.ReadAt(stored[:], end-4); err != nil {
			return info, err
		}
		if got, want := h.Sum32(), binary.LittleEndian.Uint32(stored[:]); got != want {
			return info, fmt.Errorf("NSIS CRC mismatch (stored %08x, computed %08x): the file was altered or damaged", want, got)
		}
		return info, nil
	}
	return info, errors.New("no NSIS data found: not an NSIS installer")
}

func main() {
	signed := flag.Bool("signed", false, "also require an Authenticode signature")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: pecheck [-signed] SETUP.exe")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *signed, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pecheck:", err)
		os.Exit(1)
	}
}

func run(path string, requireSigned bool, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	info, err := Inspect(f, st.Size())
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if requireSigned && !info.Signed {
		return fmt.Errorf("%s: not signed", path)
	}
	fmt.Fprintf(w, "%s: valid PE (%s, GUI) NSIS setup, %d bytes, NSIS data at %d (%d bytes, CRC ok), signed=%t\n",
		path, info.Machine, info.Size, info.NSISOffset, info.NSISLength, info.Signed)
	return nil
}
