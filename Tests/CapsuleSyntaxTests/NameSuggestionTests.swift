import CapsuleSyntax
import Testing

/// "Did you mean …?": edit distance with adjacent swaps, limits scaled by length, stable ties.
@Suite struct NameSuggestionTests {
    @Test func suggestsTheClosestNameWithinTheLimit() {
        let methods = ["sort", "push", "pop", "insert", "keys", "values", "upper"]
        #expect(NameSuggestion.closest(to: "srot", among: methods) == "sort")  // a swap is one edit
        #expect(NameSuggestion.closest(to: "pusj", among: methods) == "push")
        #expect(NameSuggestion.closest(to: "insrte", among: methods) == "insert")  // 2 edits, 6 letters
        #expect(NameSuggestion.closest(to: "vxyzus", among: methods) == nil)  // 4 edits
        #expect(NameSuggestion.closest(to: "uper", among: methods) == "upper")
        #expect(NameSuggestion.closest(to: "zz", among: methods) == nil)
        #expect(NameSuggestion.closest(to: "sort", among: methods) == nil)  // the name itself is no suggestion
    }

    @Test func shortNamesNeedACloserMatch() {
        #expect(NameSuggestion.closest(to: "x", among: ["y", "xs"]) == "xs")
        #expect(NameSuggestion.closest(to: "ab", among: ["cd"]) == nil)
        #expect(NameSuggestion.closest(to: "cnt", among: ["count"]) == nil)  // 2 edits, 3 letters
    }

    @Test func tiesGoToTheAlphabeticallyFirst() {
        #expect(NameSuggestion.closest(to: "bat", among: ["cat", "bar", "hat"]) == "bar")
        #expect(NameSuggestion.hint(for: "prnt", among: ["print"]) == "; did you mean 'print'?")
        #expect(NameSuggestion.hint(for: "qqqq", among: ["print"]) == "")
    }
}
