import CapsuleCommands

capsuleMain()
