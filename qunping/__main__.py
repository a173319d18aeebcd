from qunping.operator.cli import main

main()
